/**
 * `npm start`: the whole gateway on one machine, on its embedded defaults. Every configuration name of
 * the contract is read from the environment; nothing outside the machine is needed.
 */
import { LOCAL_DISTRIBUTION_ID } from "./gateway/cloudfrontEvent";
import { startLocalGateway } from "./gateway/LocalGateway";
import { createLocalOrigin } from "./gateway/localOrigin";

const port = Number(process.env.PORT) || 8080;
let gateway: Awaited<ReturnType<typeof startLocalGateway>>;
try {
  gateway = await startLocalGateway({ env: process.env, createOrigin: createLocalOrigin });
} catch (error) {
  const code = (error as NodeJS.ErrnoException).code;
  console.error(
    code === "EADDRINUSE"
      ? `image-gateway: port ${port} is already in use; set PORT to a free port (PORT=8081 npm start).`
      : `image-gateway: could not start: ${(error as Error).message}`,
  );
  process.exit(1);
}

const lines = [
  "",
  `Image gateway running at ${gateway.publicUrl}`,
  "",
  `  demo page      ${gateway.demoUsers ? `${gateway.publicUrl}/` : "(off: JOURNALS_API_URL is set)"}`,
  `  API            ${gateway.publicUrl}/api/health`,
  `  OpenAPI        ${gateway.publicUrl}/api/openapi.json`,
  `  images         ${gateway.publicUrl}/journals/{journal}/entries/{entry}/images/{image}`,
  `  journals API   ${gateway.journalsApiUrl}${gateway.demoUsers ? "  (built-in demo)" : ""}`,
  `  storage        ${gateway.storage.directory}/  (bucket ${gateway.storage.bucket}, files on disk)`,
  `  upload forms   ${gateway.uploadFormUrl}  (presigned POSTs, finalized on the store's events)`,
  `  cdn cache      ${mebibytes(gateway.cdnCache().maxBytes)} in memory at most (CDN_CACHE_BYTES)`,
  `  cloudfront api ${gateway.cloudFrontApiUrl}  (CreateInvalidation for ${LOCAL_DISTRIBUTION_ID})`,
  `  data           ${gateway.dataDir}/`,
];
if (gateway.publicUrl !== gateway.url) lines.splice(2, 0, `  (listening on ${gateway.url})`);
if (gateway.demoUsers) {
  lines.push("", "Demo users (send as the Authorization header):");
  for (const user of gateway.demoUsers) {
    const entries = user.journals.flatMap((journal) =>
      journal.entries.map((entry) => `${journal.id}/${entry.id}`),
    );
    lines.push(`  ${user.name.padEnd(6)} ${user.authorization}`, `         opens ${entries.join(", ")}`);
  }
}
lines.push("", "Press Ctrl+C to stop.", "");
console.log(lines.join("\n"));

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (stopping) {
      console.log(`\n${signal} again: stopping now.`);
      process.exit(1);
    }
    stopping = true;
    console.log(`\n${signal}: finishing requests under way, then stopping.`);
    gateway.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(`image-gateway: shutdown failed: ${(error as Error).message}`);
        process.exit(1);
      },
    );
  });
}

function mebibytes(bytes: number): string {
  return `${Math.round((bytes / 1024 / 1024) * 10) / 10} MiB`;
}
