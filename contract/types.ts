/** The references every part of the gateway passes around, and the `fetch` it calls other services with. */

/** An entry of a journal: the unit the journals API grants access to. */
export interface EntryRef {
  readonly journalId: string;
  readonly entryId: string;
}

/** One image of an entry: the entry and the id the gateway assigned. */
export interface ImageRef extends EntryRef {
  readonly imageId: string;
}

/** A presigned upload of an entry, by its ticket id (not the image id it may become). */
export interface UploadRef extends EntryRef {
  readonly uploadId: string;
}

/** The `fetch` a client calls; injectable so tests and the local gateway can count or route calls. */
export type Fetch = typeof fetch;
