// Group commit: items (SCIM creates) that arrive while a batch of the same key (a directory) is
// being written wait and go together into the next batch, so concurrent clients share one round of
// statements instead of queueing on it one by one. A lone item is written at once, on its own.
// Each item is answered only after its batch has been written.
//
// Writers: the first takes whatever waits. A second starts only when `secondWriterAt` items wait,
// and takes a batch only then: a create's cost is mostly its batch's (the statements and triggers
// cost nearly the same for 1 row as for 4), so two writers splitting the same creates into smaller
// batches would cost more for each; with the threshold the batches stay as large as one writer
// makes them, and two of them overlap (one's statements with the other's commit and the app's work).
// A directory with few clients (its creates outstanding average under FEW as each arrives) is the
// exception: there is no batch to wait for, and a lone create is written beside the one being
// written instead of after it.

export type GroupCommitOptions<T, R> = {
  /** Writes a batch (two items or more) and returns each item's answer, an Error in its place for one refused; null when the batch as a whole failed. */
  writeBatch: (items: T[]) => Promise<(R | Error)[] | null>;
  /** Writes one item on its own: a lone item, and each item of a batch that failed as a whole. */
  writeOne: (item: T) => Promise<R>;
  writers: number;
  secondWriterAt: number;
  maxBatch: number;
};

type Pending<T, R> = { item: T; resolve: (r: R) => void; reject: (e: unknown) => void };
type Queue<T, R> = { items: Pending<T, R>[]; writers: number; flying: number };

/** What a key's recent traffic looks like: items being written now, and how many were outstanding (written or waiting) as each arrived, averaged. */
export type Traffic = { flying: number; outstanding: number };

// Below this average of outstanding items a key has few clients: nothing to gain by waiting for a
// batch, and a lone item is written beside another instead of after it.
const FEW = 2.5;

/**
 * Whether a writer takes the next batch, with `others` writers of the same key busy: the first
 * takes whatever waits; another once `secondWriterAt` items wait, or, where the key has few
 * clients, as many as the others are writing.
 */
export function mayWrite(waiting: number, others: number, { writers, secondWriterAt }: Pick<GroupCommitOptions<unknown, unknown>, "writers" | "secondWriterAt">, traffic: Traffic = { flying: 0, outstanding: Infinity }): boolean {
  return waiting > 0 && others < writers && (others === 0 || waiting >= secondWriterAt || (traffic.outstanding < FEW && waiting >= traffic.flying));
}

export function groupCommit<T, R>(options: GroupCommitOptions<T, R>): (key: string, item: T) => Promise<R> {
  // Fewer than one writer would take nothing, and every item would wait for ever.
  for (const name of ["writers", "secondWriterAt", "maxBatch"] as const) {
    if (!Number.isInteger(options[name]) || options[name] < 1) throw new Error(`group commit: ${name} must be a whole number of at least 1, not ${options[name]}`);
  }
  const queues = new Map<string, Queue<T, R>>();
  // Per key, the average number of items outstanding as each arrived (kept while the key is idle;
  // a new key counts as busy until its traffic says otherwise).
  const outstanding = new Map<string, number>();
  const traffic = (key: string, queue: Queue<T, R>): Traffic => ({ flying: queue.flying, outstanding: outstanding.get(key) ?? options.secondWriterAt });

  async function drain(key: string, queue: Queue<T, R>) {
    queue.writers++;
    try {
      while (mayWrite(queue.items.length, queue.writers - 1, options, traffic(key, queue))) {
        const batch = queue.items.splice(0, options.maxBatch);
        queue.flying += batch.length;
        try {
          // Called inside a promise chain: a write that throws at once is a failed write too.
          const results = batch.length > 1 ? await Promise.resolve(batch.map((p) => p.item)).then(options.writeBatch).catch(() => null) : null;
          if (results) {
            batch.forEach((p, i) => (results[i] instanceof Error ? p.reject(results[i]) : p.resolve(results[i] as R)));
            continue;
          }
          // A lone item, or a batch that hit a conflict it could not foresee (another instance or
          // writer, a row created meanwhile): each on its own, with its own answer.
          for (const p of batch) await Promise.resolve(p.item).then(options.writeOne).then(p.resolve, p.reject);
        } finally {
          queue.flying -= batch.length;
        }
      }
    } finally {
      queue.writers--;
      if (mayWrite(queue.items.length, queue.writers, options, traffic(key, queue))) void drain(key, queue);
      else if (queue.writers === 0) queues.delete(key);
    }
  }

  return (key, item) =>
    new Promise<R>((resolve, reject) => {
      const queue = queues.get(key) ?? { items: [], writers: 0, flying: 0 };
      queues.set(key, queue);
      queue.items.push({ item, resolve, reject });
      const now = queue.flying + queue.items.length;
      outstanding.set(key, 0.9 * (outstanding.get(key) ?? options.secondWriterAt) + 0.1 * now);
      if (mayWrite(queue.items.length, queue.writers, options, traffic(key, queue))) void drain(key, queue);
    });
}
