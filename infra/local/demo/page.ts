/**
 * The demo page's script, built on the app client exactly as a notes app would use it; the local gateway
 * bundles it with esbuild when it starts. Demo users come from the gateway's built-in journals API.
 */
import { createImageGatewayClient, ImageGatewayError, type ImageRecord } from "../../../client/index.ts";
import type { DemoUser } from "../gateway/localState.ts";

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

const state: { users: DemoUser[]; user: DemoUser | undefined; journalId: string; entryId: string } = {
  users: [],
  user: undefined,
  journalId: "",
  entryId: "",
};
/** The variant width `src` asks for. */
const SRC_WIDTH = 640;
/** Ids of the images on show, to tell a new upload from bytes the entry already had. */
let shown = new Set<string>();

const gw = createImageGatewayClient({
  authorization: () => state.user?.authorization ?? "",
});

function show(kind: "error" | "info", text: string): void {
  const box = $("message");
  box.className = kind;
  box.textContent = text;
}

function clear(): void {
  $("message").className = "";
  $("message").textContent = "";
}

/** The gateway's refusal as a sentence a person can act on: its message, status and code. */
function describe(error: unknown): string {
  if (error instanceof ImageGatewayError) return `${error.message} (${error.status} ${error.code})`;
  return error instanceof Error ? error.message : String(error);
}

/** Why an upload failed: the gateway's message and code (a presigned upload's verdict has no status). */
function describeUpload(error: unknown): string {
  if (error instanceof ImageGatewayError) return `${error.message} (${error.code})`;
  return describe(error);
}

async function refresh(): Promise<void> {
  clear();
  $("gallery").replaceChildren();
  const entry = $<HTMLSelectElement>("entry").selectedOptions[0];
  $("gallery-title").textContent = entry ? `Images of “${entry.textContent}”` : "Images";
  try {
    render(await Promise.all((await gw.list(state.journalId, state.entryId)).map(figureOf)));
  } catch (error) {
    show("error", `Could not open this entry: ${describe(error)}`);
  }
}

function render(figures: HTMLElement[]): void {
  shown = new Set(figures.map((figure) => figure.dataset.id ?? ""));
  if (figures.length === 0) {
    const empty = document.createElement("p");
    empty.className = "empty";
    empty.textContent = "No images yet. Upload one above.";
    $("gallery").replaceChildren(empty);
    return;
  }
  $("gallery").replaceChildren(...figures);
}

/** One image: a variant as `src`, the variants that fit as `srcset`, all with the entry's access token. */
async function figureOf(image: ImageRecord): Promise<HTMLElement> {
  const figure = document.createElement("figure");
  figure.dataset.testid = "image";
  figure.dataset.id = image.id;
  const img = document.createElement("img");
  img.alt = image.name;
  // `src` (for a browser that ignores srcset) is a mid-sized variant, or the original on a gateway
  // configured without that width.
  const [src, srcset] = await Promise.all([
    gw.imageUrl(image, { width: SRC_WIDTH }).catch(() => gw.imageUrl(image)),
    gw.srcset(image),
  ]);
  if (srcset) {
    img.srcset = srcset;
    // The gallery's columns are at most a third of the page and never narrower than 170 px.
    img.sizes = "(max-width: 600px) 100vw, 340px";
  }
  img.src = src;
  const caption = document.createElement("figcaption");
  const name = document.createElement("span");
  name.textContent = `${image.name}.${image.extension} · ${Math.ceil(image.size / 1024)} KB`;
  name.title = name.textContent;
  const remove = document.createElement("button");
  remove.className = "danger";
  remove.type = "button";
  remove.textContent = "Delete";
  remove.dataset.testid = "delete";
  remove.onclick = async () => {
    try {
      await gw.delete(image.journal_id, image.entry_id, image.id);
      await refresh();
      show("info", `Deleted ${image.name}.`);
    } catch (error) {
      show("error", `Could not delete: ${describe(error)}`);
    }
  };
  caption.append(name, remove);
  figure.append(img, caption);
  return figure;
}

async function uploadAll(files: readonly File[]): Promise<void> {
  await loaded;
  clear();
  const bar = $<HTMLProgressElement>("progress");
  bar.hidden = false;
  const done: string[] = [];
  const failed: string[] = [];
  for (const [index, file] of files.entries()) {
    $("progress-label").textContent = `Uploading ${file.name} (${index + 1} of ${files.length})…`;
    bar.value = 0;
    try {
      const record = await gw.upload(state.journalId, state.entryId, file, {
        onProgress: ({ loaded, total }) => {
          bar.value = Math.round((loaded / total) * 100);
          // Every byte has left: what remains is the gateway's check of the stored file.
          if (loaded === total) {
            $("progress-label").textContent = `Checking ${file.name} (${index + 1} of ${files.length})…`;
          }
        },
      });
      done.push(shown.has(record.id) ? `${file.name} (already there)` : file.name);
    } catch (error) {
      failed.push(`Could not upload ${file.name}: ${describeUpload(error)}`);
      show("error", failed.join(" "));
    }
  }
  bar.hidden = true;
  bar.value = 0;
  $("progress-label").textContent = done.length ? `Uploaded ${done.join(", ")}.` : "";
  await refresh();
  // Reloading the gallery clears the message box: what failed is said again once it is back.
  if (failed.length) show("error", failed.join(" "));
}

function selectEntry(): void {
  [state.journalId = "", state.entryId = ""] = $<HTMLSelectElement>("entry").value.split("/");
}

$("user").onchange = () => {
  state.user = state.users.find((user) => user.name === $<HTMLSelectElement>("user").value);
  void refresh();
};
$("entry").onchange = () => {
  selectEntry();
  void refresh();
};
$("choose").onclick = () => $("file").click();
const input = $<HTMLInputElement>("file");
input.onchange = () => {
  void uploadAll([...(input.files ?? [])]);
  input.value = "";
};
$("delete-all").onclick = async () => {
  if (!confirm("Delete every image of this entry?")) return;
  try {
    await gw.deleteAll(state.journalId, state.entryId);
    await refresh();
    show("info", "Deleted every image of this entry.");
  } catch (error) {
    show("error", `Could not delete: ${describe(error)}`);
  }
};
const drop = $("drop");
drop.ondragover = (event) => {
  event.preventDefault();
  drop.classList.add("over");
};
drop.ondragleave = () => drop.classList.remove("over");
drop.ondrop = (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  void uploadAll([...(event.dataTransfer?.files ?? [])]);
};

/** The users and entries, loaded once; a file chosen before they are waits for them. */
async function load(): Promise<void> {
  const response = await fetch("/demo/users.json");
  if (!response.ok) {
    show("error", "This gateway uses an external journals API, so there are no demo users to choose.");
  } else {
    state.users = (await response.json()) as DemoUser[];
    $("user").replaceChildren(...state.users.map((user) => new Option(user.name, user.name)));
    $("entry").replaceChildren(
      ...state.users.flatMap((user) =>
        user.journals.flatMap((journal) =>
          journal.entries.map(
            (entry) =>
              new Option(`${journal.title} / ${entry.title} (${user.name})`, `${journal.id}/${entry.id}`),
          ),
        ),
      ),
    );
    state.user = state.users[0];
    selectEntry();
    await refresh();
  }
}

const loaded = load();
await loaded;
