/**
 * Change journals (lib/lake/changes.ts) on a real local lake: what a consumer
 * reads since its cursor, with the margin that catches late commits, never
 * counting an entry twice.
 */
import { describe, expect, it } from "vitest";
import { cursorAt, readJournalSince, pruneJournal, writeJournal } from "../lib/lake/changes.ts";
import { journalPrefix } from "../lib/lake/layout.ts";
import { LocalLakeStore } from "../lib/lake/local.ts";
import { tempDir } from "./support/fixtures.ts";

const at = (iso: string) => new Date(iso);

describe("change journals", () => {
  it("reads what was written since the cursor, once, the latest word winning", async () => {
    const dir = await tempDir("changes");
    try {
      const store = new LocalLakeStore(dir.path);
      const cursor = cursorAt(at("2026-12-01T10:00:00.000Z"));
      expect(await writeJournal(store, "raw", { runId: "r0", stage: "sync", changes: [] })).toBeNull();
      await writeJournal(store, "raw", { runId: "r1", stage: "sync", changes: [{ dac: "aoml", wmo: "1900001", change: "changed" }] }, at("2026-12-01T10:05:00.000Z"));
      await writeJournal(store, "raw", { runId: "r2", stage: "sync", changes: [{ dac: "aoml", wmo: "1900001", change: "removed" }, { dac: "coriolis", wmo: "6900002", change: "changed" }] }, at("2026-12-01T10:06:00.000Z"));
      const first = await readJournalSince(store, "raw", cursor);
      expect(first.entries).toBe(2);
      expect(first.changes).toEqual([{ dac: "aoml", wmo: "1900001", change: "removed" }, { dac: "coriolis", wmo: "6900002", change: "changed" }]);
      expect(first.cursor.through).toBe("20261201T100600.000Z");
      // Nothing new: nothing read, though both entries are within the margin.
      const again = await readJournalSince(store, "raw", first.cursor);
      expect(again.entries).toBe(0);
      expect(again.changes).toEqual([]);
      // A shard that started earlier commits late, with an older stamp: still read, once.
      await writeJournal(store, "raw", { runId: "late", stage: "sync", changes: [{ dac: "bodc", wmo: "3900003", change: "changed" }] }, at("2026-12-01T10:01:00.000Z"));
      const late = await readJournalSince(store, "raw", again.cursor);
      expect(late.changes.map((c) => c.wmo)).toEqual(["3900003"]);
      expect((await readJournalSince(store, "raw", late.cursor)).entries).toBe(0);
      // The other zone is separate.
      expect((await readJournalSince(store, "parquet", cursor)).entries).toBe(0);
    } finally {
      await dir.cleanup();
    }
  });

  it("refuses a damaged entry by name, and prunes old entries", async () => {
    const dir = await tempDir("changes");
    try {
      const store = new LocalLakeStore(dir.path);
      const key = await writeJournal(store, "parquet", { runId: "p1", stage: "parse", changes: [{ dac: "aoml", wmo: "1900001", change: "changed" }] }, at("2026-12-01T10:05:00.000Z"));
      await store.put(key!, new TextEncoder().encode("{\"format\": 1, \"zone\""));
      await expect(readJournalSince(store, "parquet", cursorAt(at("2026-12-01T09:00:00.000Z")))).rejects.toThrow(key!);
      expect(await pruneJournal(store, "parquet", 24 * 3600_000, Date.parse("2026-12-03T00:00:00Z"))).toBe(1);
      expect(await store.list(journalPrefix("parquet"))).toEqual([]);
    } finally {
      await dir.cleanup();
    }
  });
});
