/**
 * A real local lake store that records what it is asked (listings and
 * reads), so a test can say what a job looked at without mocking the lake.
 */
import { MANIFEST_PREFIX, RAW_DATA_PREFIX } from "../../lib/lake/layout.ts";
import { LocalLakeStore } from "../../lib/lake/local.ts";
import type { LakeObject, LakeStore } from "../../lib/lake/store.ts";

/** A real local store that records what it is asked. */
export class CountingStore implements LakeStore {
  readonly inner: LocalLakeStore;
  lists: string[] = [];
  gets: string[] = [];
  constructor(root: string) {
    this.inner = new LocalLakeStore(root);
  }
  get description() {
    return this.inner.description;
  }
  get localRoot() {
    return this.inner.localRoot;
  }
  reset() {
    this.lists = [];
    this.gets = [];
  }
  /** Float folders listed (any listing that reaches into a float's raw files). */
  floatLists(): string[] {
    return this.lists.filter((p) => p.startsWith(RAW_DATA_PREFIX));
  }
  /** Manifests read. */
  manifestGets(): string[] {
    return this.gets.filter((k) => k.startsWith(MANIFEST_PREFIX));
  }
  get(key: string) {
    this.gets.push(key);
    return this.inner.get(key);
  }
  put(key: string, body: Uint8Array) {
    return this.inner.put(key, body);
  }
  putFile(key: string, path: string) {
    return this.inner.putFile(key, path);
  }
  moveIn(key: string, path: string) {
    return this.inner.moveIn(key, path);
  }
  stat(key: string) {
    return this.inner.stat(key);
  }
  list(prefix: string): Promise<LakeObject[]> {
    this.lists.push(prefix);
    return this.inner.list(prefix);
  }
  delete(key: string) {
    return this.inner.delete(key);
  }
  move(from: string, to: string) {
    return this.inner.move(from, to);
  }
  close() {
    return this.inner.close();
  }
}
