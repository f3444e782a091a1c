import { stringify } from "csv-stringify/sync";

/**
 * A CSV download streamed from an async iterator of row batches: the header first, then each batch
 * as it is read (the whole file is never in memory). Cancelling the download stops the iterator.
 */
export function csvResponse<T>(filename: string, header: string[], batches: AsyncGenerator<T[]>, toRow: (item: T) => unknown[]): Response {
  const encoder = new TextEncoder();
  let headerSent = false;
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        if (!headerSent) {
          headerSent = true;
          controller.enqueue(encoder.encode(stringify([header])));
        }
        const next = await batches.next();
        if (next.done) return controller.close();
        controller.enqueue(encoder.encode(stringify(next.value.map(toRow))));
      } catch (error) {
        controller.error(error);
      }
    },
    async cancel() {
      await batches.return(undefined);
    },
  });
  return new Response(stream, {
    headers: {
      "content-type": "text/csv; charset=utf-8",
      "content-disposition": `attachment; filename="${filename}"`,
      "cache-control": "no-store",
    },
  });
}
