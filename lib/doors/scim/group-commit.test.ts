import { describe, expect, it } from "vitest";
import { groupCommit, mayWrite } from "./group-commit";

type Write = { kind: "batch" | "one"; items: string[]; finish: (ok?: boolean) => void };

/** A group commit whose writes finish when the test says so; `writes` lists them as they start. */
function harness(opts: { writers?: number; secondWriterAt?: number; refuse?: string[] } = {}) {
  const writes: Write[] = [];
  const enqueue = groupCommit<string, string>({
    writeBatch: (items) =>
      new Promise((resolve) => writes.push({ kind: "batch", items, finish: (ok = true) => resolve(ok ? items.map((i) => (opts.refuse?.includes(i) ? new Error(`refused ${i}`) : `wrote ${i} in a batch`)) : null) })),
    writeOne: (item) => new Promise((resolve, reject) => writes.push({ kind: "one", items: [item], finish: (ok = true) => (ok ? resolve(`wrote ${item} alone`) : reject(new Error(`failed ${item}`))) })),
    writers: opts.writers ?? 2,
    secondWriterAt: opts.secondWriterAt ?? 4,
    maxBatch: 64,
  });
  const answers = new Map<string, string>();
  const add = (key: string, ...items: string[]) =>
    items.map((item) => enqueue(key, item).then((a) => (answers.set(item, a), a), (e: Error) => (answers.set(item, e.message), e.message)));
  return { writes, answers, add };
}

// Every promise callback that can run has run (no timer involved).
const settle = () => new Promise((r) => setImmediate(r));

describe("group commit of SCIM creates", () => {
  it("lets the first writer take whatever waits, another only a full batch's worth", () => {
    const options = { writers: 2, secondWriterAt: 4 };
    expect(mayWrite(0, 0, options)).toBe(false);
    expect(mayWrite(1, 0, options)).toBe(true);
    expect(mayWrite(3, 1, options)).toBe(false);
    expect(mayWrite(4, 1, options)).toBe(true);
    expect(mayWrite(9, 2, options)).toBe(false);
    expect(mayWrite(9, 1, { writers: 1, secondWriterAt: 4 })).toBe(false);
    // A key with few clients (under 2.5 outstanding on average): a second writer takes as many as
    // the first is writing, a lone create beside a lone create.
    expect(mayWrite(1, 1, options, { flying: 1, outstanding: 1.5 })).toBe(true);
    expect(mayWrite(1, 1, options, { flying: 2, outstanding: 1.5 })).toBe(false);
    expect(mayWrite(1, 1, options, { flying: 1, outstanding: 3 })).toBe(false);
    expect(mayWrite(1, 2, options, { flying: 1, outstanding: 1.5 })).toBe(false);
  });

  it("with few clients, writes a create beside the one being written instead of after it; a new directory counts as busy", async () => {
    const h = harness();
    // A directory that has had one create outstanding at a time, for a while.
    for (let i = 0; i < 30; i++) {
      h.add("dir", `x${i}`);
      await settle();
      h.writes.at(-1)!.finish();
      await settle();
    }
    h.add("dir", "a");
    await settle();
    h.add("dir", "b");
    await settle();
    expect(h.writes.slice(30).map((w) => [w.kind, w.items])).toEqual([["one", ["a"]], ["one", ["b"]]]);
    h.writes[31]!.finish();
    await settle();
    expect(h.answers.get("b")).toBe("wrote b alone");
    expect(h.answers.has("a")).toBe(false);
    h.writes[30]!.finish();
    await settle();
    // Another directory, new: the same two arrivals wait one behind the other.
    h.add("other", "c");
    await settle();
    h.add("other", "d");
    await settle();
    expect(h.writes.slice(32).map((w) => w.items)).toEqual([["c"]]);
    h.writes[32]!.finish();
    await settle();
    expect(h.writes.slice(32).map((w) => w.items)).toEqual([["c"], ["d"]]);
  });

  it("writes a lone create at once, on its own", async () => {
    const h = harness();
    const [a] = h.add("dir", "a");
    await settle();
    expect(h.writes.map((w) => [w.kind, w.items])).toEqual([["one", ["a"]]]);
    h.writes[0]!.finish();
    expect(await a).toBe("wrote a alone");
  });

  it("batches the creates that arrive meanwhile; a second writer starts only when four wait, and batches stay whole", async () => {
    const h = harness();
    h.add("dir", "a");
    await settle();
    h.add("dir", "b", "c", "d");
    await settle();
    // Three wait behind the first write: no second writer yet.
    expect(h.writes.map((w) => w.items)).toEqual([["a"]]);
    h.add("dir", "e");
    await settle();
    // Four wait: a second writer takes them together while the first is still busy.
    expect(h.writes.map((w) => [w.kind, w.items])).toEqual([["one", ["a"]], ["batch", ["b", "c", "d", "e"]]]);
    h.add("dir", "f", "g");
    await settle();
    h.writes[0]!.finish();
    await settle();
    // The first writer is done, and two waiting are too few for it while the other writes.
    expect(h.writes).toHaveLength(2);
    expect(h.answers.get("a")).toBe("wrote a alone");
    h.writes[1]!.finish();
    await settle();
    expect(h.writes.map((w) => w.items)).toEqual([["a"], ["b", "c", "d", "e"], ["f", "g"]]);
    h.writes[2]!.finish();
    await settle();
    expect([...h.answers.keys()].sort()).toEqual(["a", "b", "c", "d", "e", "f", "g"]);
    expect(h.answers.get("g")).toBe("wrote g in a batch");
  });

  it("with one writer, never starts a second whatever waits", async () => {
    const h = harness({ writers: 1 });
    h.add("dir", "a");
    await settle();
    h.add("dir", "b", "c", "d", "e", "f");
    await settle();
    expect(h.writes.map((w) => w.items)).toEqual([["a"]]);
    h.writes[0]!.finish();
    await settle();
    expect(h.writes.map((w) => w.items)).toEqual([["a"], ["b", "c", "d", "e", "f"]]);
  });

  it("answers a refused create with its own error; a batch that failed as a whole is written one by one", async () => {
    const h = harness({ refuse: ["c"] });
    h.add("dir", "a");
    await settle();
    h.add("dir", "b", "c");
    await settle();
    h.writes[0]!.finish();
    await settle();
    h.writes[1]!.finish();
    await settle();
    expect(h.answers.get("b")).toBe("wrote b in a batch");
    expect(h.answers.get("c")).toBe("refused c");
    h.add("dir", "d");
    await settle();
    h.add("dir", "e", "f");
    await settle();
    h.writes[2]!.finish();
    await settle();
    h.writes[3]!.finish(false);
    await settle();
    h.writes[4]!.finish();
    await settle();
    h.writes[5]!.finish(false);
    await settle();
    expect(h.writes.slice(3).map((w) => [w.kind, w.items])).toEqual([["batch", ["e", "f"]], ["one", ["e"]], ["one", ["f"]]]);
    expect(h.answers.get("e")).toBe("wrote e alone");
    expect(h.answers.get("f")).toBe("failed f");
  });

  it("writes one by one a batch whose write throws, and answers a create whose write throws at once with that error", async () => {
    const writes: string[][] = [];
    let hold!: () => void;
    const enqueue = groupCommit<string, string>({
      writeBatch: async (items) => {
        writes.push(items);
        throw new Error("a conflict the batch did not foresee");
      },
      writeOne: (item) => {
        writes.push([item]);
        if (item === "a") return new Promise<string>((resolve) => (hold = () => resolve("wrote a alone")));
        if (item === "c") throw new Error("c cannot be written");
        return Promise.resolve(`wrote ${item} alone`);
      },
      writers: 2,
      secondWriterAt: 4,
      maxBatch: 64,
    });
    const a = enqueue("dir", "a");
    await settle();
    const [b, c] = [enqueue("dir", "b"), enqueue("dir", "c")];
    await settle();
    hold();
    expect(await Promise.allSettled([a, b, c])).toEqual([
      { status: "fulfilled", value: "wrote a alone" },
      { status: "fulfilled", value: "wrote b alone" },
      { status: "rejected", reason: new Error("c cannot be written") },
    ]);
    expect(writes).toEqual([["a"], ["b", "c"], ["b"], ["c"]]);
    // The writer is free again: the next create is written at once.
    const d = enqueue("dir", "d");
    expect(await d).toBe("wrote d alone");
  });

  it("refuses settings that would leave every create waiting", () => {
    const write = () => Promise.resolve("x");
    for (const bad of [0, Number.NaN, 1.5]) {
      expect(() => groupCommit({ writeBatch: () => Promise.resolve([]), writeOne: write, writers: bad, secondWriterAt: 4, maxBatch: 64 })).toThrow(/writers must be a whole number of at least 1/);
    }
    expect(() => groupCommit({ writeBatch: () => Promise.resolve([]), writeOne: write, writers: 2, secondWriterAt: 0, maxBatch: 64 })).toThrow(/secondWriterAt/);
  });

  it("keeps directories apart: each has its own writers", async () => {
    const h = harness();
    h.add("one", "a");
    h.add("two", "b");
    await settle();
    expect(h.writes.map((w) => w.items)).toEqual([["a"], ["b"]]);
  });
});
