import { SECRET_REFRESH_MS } from "../../contract/constants";
import type { GetSecretString } from "../../contract/keyLoaders";
import { refreshing } from "../../contract/refreshing";
import type { Fetch } from "../../contract/types";
import type { MetadataStoreConfig } from "../config";
import type { MetadataStore } from "../domain/ports";
import { BugoutMetadataStore } from "./BugoutMetadataStore";
import { SqliteMetadataStore } from "./SqliteMetadataStore";
import { resolveSecret } from "./secrets";

/** What a caller may replace when building a metadata store. */
export interface MetadataStoreOverrides {
  /** Reaches Bugout; tests route it to a double. */
  readonly fetch?: Fetch;
  /** Reads the Bugout token from Secrets Manager. */
  readonly getSecretString?: GetSecretString;
  /** Milliseconds since the epoch, for when to read the token again. */
  readonly now?: () => number;
  /** How long Bugout writes take to settle (`BugoutStoreOptions.settleMs`); tests shorten it. */
  readonly bugoutSettleMs?: number;
}

/**
 * The one place `METADATA_STORE` is decided: a SQLite file, or Bugout's resources API, whose token is
 * proven able to write and delete in the application before the store is handed out.
 *
 * @throws {Error} one line naming what is wrong with the Bugout token or application, and the fix
 */
export async function createMetadataStore(
  config: MetadataStoreConfig,
  overrides: MetadataStoreOverrides = {},
): Promise<MetadataStore> {
  switch (config.type) {
    case "sqlite":
      return SqliteMetadataStore.open(config.file);
    case "bugout": {
      const store = new BugoutMetadataStore({
        apiUrl: config.apiUrl,
        applicationId: config.applicationId,
        // Read once and then now and then, like the signing keys, so a rotated token reaches warm containers.
        accessToken: refreshing(
          () => resolveSecret(config.accessToken, overrides.getSecretString),
          SECRET_REFRESH_MS,
          { what: "Bugout access token", now: overrides.now },
        ),
        fetch: overrides.fetch,
        settleMs: overrides.bugoutSettleMs,
      });
      // At start, not at the first upload: a token outside the application's group sees no image and
      // would make every legacy object look like an orphan.
      await store.verifyAccess();
      return store;
    }
  }
}
