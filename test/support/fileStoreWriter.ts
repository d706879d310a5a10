/**
 * A process that only writes to a `FileImageStore`, for the crash test to kill: `node --import tsx
 * test/support/fileStoreWriter.ts ROOT`. It writes version after version of a few keys, forever, and
 * prints `ready` once the first round is written.
 */
import { createHash } from "node:crypto";
import { FileImageStore } from "../../origin/adapters/FileImageStore";
import { FILE_STORE_CRASH_KEYS, fileStoreVersion } from "./fileStoreVersions";

const store = await FileImageStore.open(process.argv[2] ?? "");
for (let round = 0; ; round += 1) {
  await Promise.all(
    FILE_STORE_CRASH_KEYS.map(async (key) => {
      const bytes = fileStoreVersion(key, round);
      const sha256 = createHash("sha256").update(bytes).digest("hex");
      if (round % 3 === 2) {
        await store.copy(key, `${key}-copy`, { contentType: `image/x-round-${round}` });
      }
      await store.put(key, bytes, { contentType: `image/x-round-${round}`, sha256 });
    }),
  );
  if (round === 0) console.log("ready");
}
