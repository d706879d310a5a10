import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { SigningKey } from "../../../contract/KeyRing";
import { formatSigningKeys, parseSigningKeys } from "../../../contract/keyLoaders";

/** A demo journals API user: its credential and the journals and entries it may open. */
export interface DemoUser {
  readonly name: string;
  readonly authorization: string;
  readonly journals: readonly DemoJournal[];
}

export interface DemoJournal {
  readonly id: string;
  readonly title: string;
  readonly entries: readonly { readonly id: string; readonly title: string }[];
}

const KEYS_FILE = "signing-keys.json";
const DEMO_USERS_FILE = "demo-users.json";
// Only the owner may read what protects the images.
const PRIVATE_FILE_MODE = 0o600;

/**
 * The local gateway's signing keys: `SIGNING_KEYS` or `SIGNING_KEYS_FILE` when configured, else a key made
 * on the first start in `DATA_DIR/signing-keys.json` and reused afterwards, so tokens survive a restart.
 */
export async function loadOrCreateSigningKeys(
  dataDir: string,
  env: NodeJS.ProcessEnv,
): Promise<SigningKey[]> {
  if (env.SIGNING_KEYS) return parseSigningKeys(env.SIGNING_KEYS);
  if (env.SIGNING_KEYS_FILE) return parseSigningKeys(await readFile(env.SIGNING_KEYS_FILE, "utf8"));
  return loadOrCreate(join(dataDir, KEYS_FILE), parseSigningKeys, () =>
    formatSigningKeys([{ kid: `local-${Date.now().toString(36)}`, secret: new Uint8Array(randomBytes(32)) }]),
  );
}

/** Two demo users with fresh random credentials on the first start, kept in `DATA_DIR` afterwards. */
export async function loadOrCreateDemoUsers(dataDir: string): Promise<DemoUser[]> {
  const credential = (name: string) => `Bearer demo-${name}-${randomBytes(12).toString("base64url")}`;
  return loadOrCreate(
    join(dataDir, DEMO_USERS_FILE),
    (text) => JSON.parse(text) as DemoUser[],
    () =>
      JSON.stringify(
        [
          {
            name: "alice",
            authorization: credential("alice"),
            journals: [
              {
                id: "alice-travel",
                title: "Travel",
                entries: [
                  { id: "lisbon-2026", title: "Lisbon in spring" },
                  { id: "kyoto-2026", title: "Kyoto in autumn" },
                ],
              },
            ],
          },
          {
            name: "bob",
            authorization: credential("bob"),
            journals: [
              { id: "bob-kitchen", title: "Kitchen", entries: [{ id: "sourdough", title: "Sourdough" }] },
            ],
          },
        ] satisfies DemoUser[],
        null,
        2,
      ),
  );
}

/** What each demo credential opens, as the journals API server takes it. */
export function demoAccess(users: readonly DemoUser[]): Record<string, string[]> {
  return Object.fromEntries(
    users.map((user) => [
      user.authorization,
      user.journals.flatMap((journal) => journal.entries.map((entry) => `${journal.id}/${entry.id}`)),
    ]),
  );
}

/**
 * The file at `path` parsed, or, when there is none yet, the text `create` makes, written readable by the
 * owner only and parsed.
 */
export async function loadOrCreate<T>(
  path: string,
  parse: (text: string) => T,
  create: () => string,
): Promise<T> {
  try {
    return parse(await readFile(path, "utf8"));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  await mkdir(join(path, ".."), { recursive: true });
  const text = create();
  // `wx`: if two starts race, the second fails rather than replacing the first one's key.
  await writeFile(path, text, { mode: PRIVATE_FILE_MODE, flag: "wx" });
  return parse(text);
}
