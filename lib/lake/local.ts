/** The lake on a local directory. */
import { randomBytes } from "node:crypto";
import { copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import { LakeError } from "../errors.ts";
import { checkKey, type LakeObject, type LakeStore } from "./store.ts";

/** Temporary files are hidden (dot-prefixed) so globs such as *.parquet never see them. */
export const TMP_SUFFIX = ".tmp";
export const isTempName = (name: string): boolean => name.startsWith(".") && name.endsWith(TMP_SUFFIX);

/** A lake in a local directory; writes go to a hidden temporary file, then rename. */
export class LocalLakeStore implements LakeStore {
  readonly description: string;
  /** Folders known to exist: a sync writes thousands of files into few folders. */
  private readonly folders = new Set<string>();
  constructor(readonly localRoot: string) {
    this.description = localRoot;
  }

  private path(key: string): string {
    return join(this.localRoot, ...checkKey(key).split("/"));
  }

  async get(key: string): Promise<Uint8Array | null> {
    try {
      return new Uint8Array(await readFile(this.path(key)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw new LakeError(`cannot read ${key}: ${(err as Error).message}`, { file: key }, { cause: err });
    }
  }

  async put(key: string, body: Uint8Array): Promise<void> {
    await this.atomically(key, (tmp) => writeFile(tmp, body));
  }

  async putFile(key: string, path: string): Promise<void> {
    await this.atomically(key, (tmp) => copyFile(path, tmp));
  }

  async moveIn(key: string, path: string): Promise<void> {
    const target = this.path(key);
    const folder = dirname(target);
    try {
      if (!this.folders.has(folder)) await mkdir(folder, { recursive: true });
      try {
        await rename(path, target);
      } catch (err) {
        // The folder may have been removed behind our back: make it again, once.
        if ((err as NodeJS.ErrnoException).code !== "ENOENT" || !(await stat(path).catch(() => null))) throw err;
        await mkdir(folder, { recursive: true });
        await rename(path, target);
      }
      this.folders.add(folder);
    } catch (err) {
      // Another file system: copy, then remove.
      if ((err as NodeJS.ErrnoException).code !== "EXDEV") {
        throw new LakeError(`cannot move ${path} to ${key} in the lake at ${this.localRoot}: ${(err as Error).message}`, { file: key }, { cause: err });
      }
      await this.putFile(key, path);
      await rm(path, { force: true });
    }
  }

  private async atomically(key: string, write: (tmp: string) => Promise<void>): Promise<void> {
    const target = this.path(key);
    const tmp = join(dirname(target), `.${randomBytes(6).toString("hex")}${TMP_SUFFIX}`);
    const folder = dirname(target);
    try {
      if (!this.folders.has(folder)) await mkdir(folder, { recursive: true });
      try {
        await write(tmp);
      } catch (err) {
        // The folder may have been removed behind our back: make it again, once.
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
        await mkdir(folder, { recursive: true });
        await write(tmp);
      }
      this.folders.add(folder);
      await rename(tmp, target);
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => {});
      throw new LakeError(`cannot write ${key} to the lake at ${this.localRoot}: ${(err as Error).message}`, { file: key }, { cause: err });
    }
  }

  async stat(key: string): Promise<LakeObject | null> {
    const path = this.path(key);
    try {
      const s = await stat(path);
      return s.isFile() ? { key, size: s.size, modified: s.mtime } : null;
    } catch (err) {
      // Only a missing object is "none"; an unreadable lake must not look empty.
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") return null;
      throw new LakeError(`cannot stat ${key}: ${(err as Error).message}`, { file: key }, { cause: err });
    }
  }

  async list(prefix: string): Promise<LakeObject[]> {
    // List from the deepest whole folder of the prefix, then filter on the rest.
    const folder = prefix.includes("/") ? prefix.slice(0, prefix.lastIndexOf("/")) : "";
    const start = folder ? join(this.localRoot, ...checkKey(folder).split("/")) : this.localRoot;
    const out: LakeObject[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        const full = join(dir, e.name);
        if (e.isDirectory()) await walk(full);
        else if (e.isFile() && !isTempName(e.name)) {
          const key = relative(this.localRoot, full).split(sep).join("/");
          if (!key.startsWith(prefix)) continue;
          const s = await stat(full).catch(() => null);
          if (s) out.push({ key, size: s.size, modified: s.mtime });
        }
      }
    };
    await walk(start);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }

  async move(from: string, to: string): Promise<void> {
    const target = this.path(to);
    try {
      await mkdir(dirname(target), { recursive: true });
      await rename(this.path(from), target);
    } catch (err) {
      throw new LakeError(`cannot move ${from} to ${to}: ${(err as Error).message}`, { file: from }, { cause: err });
    }
  }

  async close(): Promise<void> {}
}
