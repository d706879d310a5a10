import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    environment: "node",
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Suites start real servers on loopback; two workers fit the 2-core machines CI runs on.
    maxWorkers: 2,
    // s3rver, the S3 adapter's test server (never the gateway's: `npm start` and `npm run reconcile` need no
    // flag), encrypts its listing continuation tokens with DES, which OpenSSL 3 keeps in its legacy provider.
    execArgv: ["--openssl-legacy-provider"],
  },
});
