import { csvLines, neutralisedStoredCsv } from "@/lib/domain/csv";

// Every CSV download of the console leaves through this file, and every CSV it carries was written
// by csvLines (lib/domain/csv.ts: formula cells neutralised); lib/doors/http/csv.test.ts checks that
// no route sends CSV another way.

const headersFor = (filename: string, extra: Record<string, string> = {}) => ({
  "content-type": "text/csv; charset=utf-8",
  "content-disposition": `attachment; filename="${filename}"`,
  "cache-control": "no-store",
  ...extra,
});

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
          controller.enqueue(encoder.encode(csvLines([header])));
        }
        const next = await batches.next();
        if (next.done) return controller.close();
        controller.enqueue(encoder.encode(csvLines(next.value.map(toRow))));
      } catch (error) {
        controller.error(error);
      }
    },
    async cancel() {
      await batches.return(undefined);
    },
  });
  return new Response(stream, { headers: headersFor(filename) });
}

/**
 * A CSV written earlier and kept (an access review's signed-off report), sent as it was signed;
 * one kept from before formulas were neutralised is sent neutralised, and says so (its SHA-256 in
 * `extraHeaders` is then of the report as signed, not of these bytes).
 */
export function storedCsvResponse(filename: string, csv: string, extraHeaders: Record<string, string> = {}): Response {
  const neutralised = neutralisedStoredCsv(csv);
  if (neutralised === null) return new Response(csv, { headers: headersFor(filename, extraHeaders) });
  return new Response(neutralised, {
    headers: headersFor(filename, { ...extraHeaders, "x-report-reencoded": "formula cells neutralised; x-content-sha256 is of the report as signed" }),
  });
}
