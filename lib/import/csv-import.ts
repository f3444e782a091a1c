import "server-only";
import { parse } from "csv-parse";
import { and, asc, eq, gt, sql } from "drizzle-orm";
import { z } from "zod";
import { getDb, type Tx } from "@/db/client";
import { environments, groups, jobItems, uploadChunks, uploads, users, type Job } from "@/db/schema";
import type { Actor, DomainContext } from "@/lib/auth/actor";
import { recordAudit, recordAuditMany, type AuditEntry } from "@/lib/audit/record";
import { environmentKeysOf } from "@/lib/environments";
import { ValidationError } from "@/lib/errors";
import { changedMeanwhile } from "@/lib/db-errors";
import { insertAccessRows, insertMembershipPairs } from "@/lib/groups/membership-rows";
import { enqueueJob, firstItemSeqs, recheckJobActor, registerJobHandler, saveItems, saveProgress } from "@/lib/jobs";
import { authorize, denialReason } from "@/lib/permissions";
import { insertUserRows, renameUserRows } from "@/lib/users/rows";
import { emailSchema, parseInput, personNameSchema, uuidSchema } from "@/lib/validation";

// CSV import of users, environments and groups. The file is streamed into Postgres in 1 MiB chunks,
// then parsed as a stream (never whole in memory) by a background job: a dry run that reports per row
// create / update / unchanged / error with the reason, then the apply, batch by batch, each batch
// committed with its audit rows, report lines and progress, so a restart resumes after the last
// committed row. Import only adds: it creates users, renames them, grants environments and adds
// groups; it never removes anything. Re-importing the same file changes nothing.

export const CHUNK_BYTES = 1024 * 1024;
export const MAX_UPLOAD_BYTES = 512 * 1024 * 1024;
const BATCH_ROWS = 500;

/** Streams a request body into upload chunks; returns the upload id and size. */
export async function saveUpload(body: ReadableStream<Uint8Array>, name: string, createdBy: string): Promise<{ id: string; bytes: number }> {
  const db = getDb();
  const [upload] = await db.insert(uploads).values({ name: name.slice(0, 255), createdBy }).returning({ id: uploads.id });
  let seq = 0;
  let bytes = 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const flush = async () => {
    if (pendingBytes === 0) return;
    await db.insert(uploadChunks).values({ uploadId: upload!.id, seq: seq++, data: Buffer.concat(pending) });
    pending = [];
    pendingBytes = 0;
  };
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.byteLength;
    if (bytes > MAX_UPLOAD_BYTES) {
      await db.delete(uploads).where(eq(uploads.id, upload!.id));
      throw new ValidationError(`The file is larger than ${MAX_UPLOAD_BYTES / 1024 / 1024} MiB.`, { file: ["File too large."] });
    }
    pending.push(Buffer.from(value));
    pendingBytes += value.byteLength;
    if (pendingBytes >= CHUNK_BYTES) await flush();
  }
  await flush();
  await db.update(uploads).set({ bytes }).where(eq(uploads.id, upload!.id));
  if (bytes === 0) throw ValidationError.field("file", "The file is empty.");
  return { id: upload!.id, bytes };
}

/** The upload's bytes, chunk by chunk, decoded as strict UTF-8 (a bad byte is an error, not a U+FFFD). */
async function* uploadText(uploadId: string): AsyncGenerator<string> {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let offset = 0;
  for (let seq = 0; ; seq++) {
    const [chunk] = await getDb()
      .select({ data: uploadChunks.data })
      .from(uploadChunks)
      .where(and(eq(uploadChunks.uploadId, uploadId), eq(uploadChunks.seq, seq)));
    if (!chunk) break;
    try {
      yield decoder.decode(chunk.data, { stream: true });
    } catch {
      throw new ValidationError(`The file is not UTF-8 text (an invalid byte after byte ${offset.toLocaleString("en")}). Save it as “CSV UTF-8” and upload it again.`);
    }
    offset += chunk.data.length;
  }
  try {
    const rest = decoder.decode();
    if (rest) yield rest;
  } catch {
    throw new ValidationError("The file is not UTF-8 text (it ends inside a character).");
  }
}

/** Parsed CSV rows as string arrays, with their 1-based line number in the file. */
async function* csvRows(uploadId: string): AsyncGenerator<{ line: number; cells: string[]; bytes: number }> {
  const parser = parse({ bom: true, relax_column_count: true, skip_empty_lines: true, trim: true, info: true });
  const feed = (async () => {
    try {
      for await (const text of uploadText(uploadId)) {
        if (!parser.write(text)) await new Promise((r) => parser.once("drain", r));
      }
      parser.end();
    } catch (error) {
      parser.destroy(error as Error);
    }
  })();
  try {
    for await (const record of parser as AsyncIterable<{ record: string[]; info: { lines: number; bytes: number } }>) {
      yield { line: record.info.lines, cells: record.record, bytes: record.info.bytes };
    }
  } catch (error) {
    if (error instanceof ValidationError) throw error;
    throw new ValidationError(`The file is not valid CSV: ${(error as Error).message}`);
  }
  await feed;
}

// ---- Column mapping -----------------------------------------------------------

export const mappingSchema = z.object({
  email: z.string().min(1, "Choose the email column."),
  name: z.string().optional(),
  environments: z.string().optional(),
  // environment key → column holding that environment's group names
  groups: z.record(z.string(), z.string()).default({}),
});
export type ImportMapping = z.infer<typeof mappingSchema>;

/** The header row and a mapping guessed from it (email, name, environments, groups_<env>), plus unknown columns. */
export async function inspectUpload(uploadId: string): Promise<{ columns: string[]; mapping: Partial<ImportMapping>; unknown: string[] }> {
  const envKeys = (await getDb().select({ key: environments.key }).from(environments)).map((e) => e.key);
  for await (const row of csvRows(uploadId)) {
    const columns = row.cells;
    const lower = columns.map((c) => c.toLowerCase());
    const find = (...names: string[]) => columns[lower.findIndex((c) => names.includes(c))];
    const mapping: Partial<ImportMapping> = {
      email: find("email", "e-mail", "mail", "username"),
      name: find("name", "full name", "full_name", "display name"),
      environments: find("environments", "environment", "envs"),
      groups: Object.fromEntries(
        envKeys.flatMap((k) => {
          const column = find(`groups_${k}`, `groups ${k}`, `${k} groups`, `groups:${k}`);
          return column ? [[k, column]] : [];
        }),
      ),
    };
    const used = new Set([mapping.email, mapping.name, mapping.environments, ...Object.values(mapping.groups ?? {})].filter(Boolean));
    return { columns, mapping, unknown: columns.filter((c) => !used.has(c)) };
  }
  throw new ValidationError("The file has no header row.", { file: ["The file has no rows."] });
}

// ---- Planning and applying rows --------------------------------------------------

type RowPlan = {
  seq: number;
  email: string;
  outcome: "create" | "update" | "unchanged" | "error";
  detail: string;
  name?: string;
  userId?: string;
  newName?: string;
  addEnvironments: string[]; // environment ids
  addGroups: { groupId: string; environmentId: string }[];
};

type Catalog = {
  envByKey: Map<string, { id: string; key: string; position: number }>;
  envById: Map<string, { id: string; key: string; position: number }>;
  groupByEnvAndName: Map<string, { id: string; name: string; environmentId: string }>; // `${envId}/${lower name}`
};

async function loadCatalog(): Promise<Catalog> {
  const db = getDb();
  const envs = await db.select({ id: environments.id, key: environments.key, position: environments.position }).from(environments);
  const gs = await db
    .select({ id: groups.id, name: groups.name, environmentId: groups.environmentId })
    .from(groups)
    .where(sql`${groups.source} <> 'system'`);
  return {
    envByKey: new Map(envs.map((e) => [e.key, e])),
    envById: new Map(envs.map((e) => [e.id, e])),
    groupByEnvAndName: new Map(gs.map((g) => [`${g.environmentId}/${g.name.toLowerCase()}`, g])),
  };
}

const split = (value: string | undefined) => (value ? value.split(/[;|]/).map((s) => s.trim()).filter(Boolean) : []);

/** Decides what each row of a batch would do, reading the users it names in one query. */
async function planBatch(
  tx: Tx | ReturnType<typeof getDb>,
  jobId: string,
  batch: { seq: number; cells: string[] }[],
  header: string[],
  mapping: ImportMapping,
  catalog: Catalog,
  actor: Actor,
): Promise<RowPlan[]> {
  // The importer's scope, row by row: environments and groups it names, and the existing user it
  // would change (every environment that user can enter), as every other door checks it.
  const envOutside = (envId: string) => denialReason(actor, "environment_access", "write", [envId]) !== null;
  const col = (name: string | undefined) => (name ? header.indexOf(name) : -1);
  const iEmail = col(mapping.email);
  const iName = col(mapping.name);
  const iEnvs = col(mapping.environments);
  const groupCols = Object.entries(mapping.groups).map(([key, column]) => ({ key, index: col(column) }));

  const parsed = batch.map(({ seq, cells }) => {
    const errors: string[] = [];
    if (cells.length !== header.length) errors.push(`expected ${header.length} columns, found ${cells.length}`);
    const emailResult = emailSchema.safeParse(cells[iEmail] ?? "");
    if (!emailResult.success) errors.push(emailResult.error.issues[0]!.message.replace(/\.$/, "").toLowerCase());
    const rawName = iName >= 0 ? (cells[iName] ?? "").trim() : "";
    if (rawName && !personNameSchema.safeParse(rawName).success) errors.push("name is too long");
    const envKeys = iEnvs >= 0 ? split(cells[iEnvs]) : [];
    const envIds: string[] = [];
    for (const key of envKeys) {
      const env = catalog.envByKey.get(key.toLowerCase());
      if (!env) errors.push(`unknown environment “${key}”`);
      else if (envOutside(env.id)) errors.push(`environment “${key}” is outside your scope`);
      else envIds.push(env.id);
    }
    const groupRefs: { groupId: string; environmentId: string; label: string }[] = [];
    for (const { key, index } of groupCols) {
      const env = catalog.envByKey.get(key);
      for (const name of index >= 0 ? split(cells[index]) : []) {
        const g = env && catalog.groupByEnvAndName.get(`${env.id}/${name.toLowerCase()}`);
        if (!env || !g) errors.push(`unknown group “${name}” in ${key}`);
        else if (envOutside(env.id)) errors.push(`environment “${key}” is outside your scope`);
        else groupRefs.push({ groupId: g.id, environmentId: env.id, label: `${key}/${g.name}` });
      }
    }
    return { seq, email: emailResult.success ? emailResult.data : (cells[iEmail] ?? "").trim(), name: rawName, envIds, groupRefs, errors };
  });

  const emails = [...new Set(parsed.filter((p) => p.errors.length === 0).map((p) => p.email.toLowerCase()))];
  const existing = emails.length
    ? await tx
        .select({
          id: users.id,
          email: sql<string>`lower(${users.email})`,
          name: users.name,
          envs: sql<string[]>`array(select environment_id from environment_access a where a.user_id = ${users.id})`,
          groups: sql<string[]>`array(select group_id from group_members gm where gm.user_id = ${users.id})`,
        })
        .from(users)
        .where(sql`lower(${users.email}) in ${emails}`)
    : [];
  const byEmail = new Map(existing.map((u) => [u.email, u]));
  // A row naming an email an earlier row of this file already named is a duplicate.
  const firstSeen = await firstItemSeqs(tx, jobId, emails);

  return parsed.map((p): RowPlan => {
    const key = p.email.toLowerCase();
    const base = { seq: p.seq, email: p.email, addEnvironments: [], addGroups: [] };
    if (p.errors.length) return { ...base, outcome: "error", detail: p.errors.join("; ") };
    const earlier = firstSeen.get(key);
    if (earlier !== undefined && earlier < p.seq) return { ...base, outcome: "error", detail: `duplicate of row ${earlier}` };
    firstSeen.set(key, p.seq);
    const user = byEmail.get(key);
    if (user && denialReason(actor, "users", "write", user.envs)) {
      const outsideKeys = user.envs.filter(envOutside).map((id) => catalog.envById.get(id)?.key).join(", ");
      return { ...base, outcome: "error", detail: `outside your scope: this user can also enter ${outsideKeys || "no environment of yours"}` };
    }
    const haveEnvs = new Set(user?.envs ?? []);
    const addEnvironments = [...new Set(p.envIds)].filter((id) => !haveEnvs.has(id));
    const finalEnvs = new Set([...haveEnvs, ...addEnvironments]);
    const outside = p.groupRefs.find((g) => !finalEnvs.has(g.environmentId));
    if (outside) return { ...base, outcome: "error", detail: `group ${outside.label} is in an environment the user will not have` };
    const haveGroups = new Set(user?.groups ?? []);
    const addGroups = p.groupRefs.filter((g, i, all) => !haveGroups.has(g.groupId) && all.findIndex((x) => x.groupId === g.groupId) === i);
    const changes: string[] = [];
    if (addEnvironments.length) changes.push(`environments +${addEnvironments.length}`);
    if (addGroups.length) changes.push(`groups +${addGroups.length}`);
    if (!user) {
      if (!p.name) return { ...base, outcome: "error", detail: "a new user needs a name" };
      // As createUser: a user who can enter no environment is account-wide (outside every environment's scope).
      if (denialReason(actor, "users", "write", [...finalEnvs])) return { ...base, outcome: "error", detail: "a new user with no environment is account-wide: it needs an owner or admin" };
      return { ...base, outcome: "create", detail: ["new user", ...changes].join(", "), name: p.name, addEnvironments, addGroups };
    }
    const newName = p.name && p.name !== user.name ? p.name : undefined;
    if (newName) changes.unshift(`name “${user.name}” → “${newName}”`);
    if (changes.length === 0) return { ...base, outcome: "unchanged", detail: "", userId: user.id };
    return { ...base, outcome: "update", detail: changes.join(", "), userId: user.id, newName, addEnvironments, addGroups };
  });
}

/**
 * The environment an import row's audit event belongs to, as console and SCIM creations: a new user
 * of one environment, or a change that only adds access and groups in one environment. A rename, or
 * a change across environments, stays account-wide.
 */
function importRowEnvironment(p: RowPlan, envById: Map<string, { key: string }>): Pick<AuditEntry, "environment"> {
  if (p.newName) return {};
  const touched = new Set([...p.addEnvironments, ...p.addGroups.map((g) => g.environmentId)]);
  const [only] = touched;
  return touched.size === 1 && envById.has(only!) ? { environment: { id: only!, key: envById.get(only!)!.key } } : {};
}

async function applyBatch(tx: Tx, ctx: DomainContext, plans: RowPlan[], envById: Map<string, { key: string; position: number }>): Promise<void> {
  const creates = plans.filter((p) => p.outcome === "create");
  if (creates.length) {
    const inserted = await insertUserRows(
      tx,
      creates.map((p) => ({
        email: p.email,
        name: p.name!,
        source: "import" as const,
        // Set now, so granting the environments below rewrites nothing.
        environmentKeys: environmentKeysOf(p.addEnvironments.map((id) => envById.get(id)!)),
      })),
    );
    const idByEmail = new Map(inserted.map((u) => [u.email.toLowerCase(), u.id]));
    for (const p of creates) p.userId = idByEmail.get(p.email.toLowerCase());
  }
  const renames = plans.filter((x) => x.outcome === "update" && x.newName);
  if (renames.length) {
    // One statement for the batch's renames.
    await renameUserRows(tx, renames.map((p) => ({ id: p.userId!, name: p.newName! })));
  }
  const changed = plans.filter((p) => p.outcome === "create" || p.outcome === "update");
  // Set-based: one grant statement per environment (it also joins Everyone), one insert for every membership.
  const byEnv = new Map<string, string[]>();
  for (const p of changed) for (const envId of p.addEnvironments) byEnv.set(envId, [...(byEnv.get(envId) ?? []), p.userId!]);
  for (const [envId, ids] of byEnv) await insertAccessRows(tx, ids, envId, "import");
  await insertMembershipPairs(tx, changed.flatMap((p) => p.addGroups.map((g) => ({ groupId: g.groupId, userId: p.userId!, environmentId: g.environmentId }))), "manual");
  await recordAuditMany(
    tx,
    ctx,
    changed.map(
      (p): AuditEntry => ({
        action: p.outcome === "create" ? "user.import.create" : "user.import.update",
        targetType: "user",
        targetId: p.userId!,
        targetLabel: p.email,
        ...importRowEnvironment(p, envById),
        after: {
          ...(p.outcome === "create" ? { name: p.name } : p.newName ? { name: p.newName } : {}),
          environments: p.addEnvironments.map((id) => envById.get(id)?.key),
          groupsAdded: p.addGroups.map((g) => g.groupId),
        },
      }),
    ),
  );
}

// ---- Jobs ---------------------------------------------------------------------

type ImportParams = { uploadId: string; mapping: ImportMapping; dryRunJobId?: string };
type Counts = { rows: number; create: number; update: number; unchanged: number; error: number; bytes: number };

async function runImport(job: Job, queuedBy: DomainContext, apply: boolean): Promise<Record<string, unknown>> {
  const params = job.params as unknown as ImportParams;
  let catalog = await loadCatalog();
  let ctx = queuedBy;
  let counts: Counts = { rows: 0, create: 0, update: 0, unchanged: 0, error: 0, bytes: 0, ...(job.summary as Partial<Counts> | null) };
  const resumeAfter = job.progress; // rows already committed by an earlier attempt
  let header: string[] | null = null;
  let batch: { seq: number; cells: string[] }[] = [];
  let seq = 0;
  let bytes = 0;

  const flush = async () => {
    if (batch.length === 0) return;
    const rows = batch;
    batch = [];
    // The actor as it is now (stopped, with the reason in the report, if it may no longer write
    // users here); its current scope decides this batch.
    ctx = await recheckJobActor(job, ctx, rows[0]!.seq, (actor) => denialReason(actor, "users", "write", job.environmentId ? [job.environmentId] : []));
    const write = () =>
      getDb().transaction(async (tx) => {
        const plans = await planBatch(tx, job.id, rows, header!, params.mapping, catalog, ctx.actor);
        if (apply) await applyBatch(tx, ctx, plans, catalog.envById);
        const next = { ...counts, bytes };
        for (const p of plans) {
          next[p.outcome]++;
          next.rows++;
        }
        await saveItems(tx, job.id, plans.map((p) => ({ seq: p.seq, key: p.email.toLowerCase(), outcome: p.outcome, detail: p.detail || null })));
        await saveProgress(tx, job.id, rows.at(-1)!.seq, next);
        return next;
      });
    try {
      counts = await write();
    } catch (error) {
      // A group named in the file deleted since the job read the catalog, or a user of the file made
      // meanwhile by someone else: the batch (rolled back) is planned again on what is there now, so
      // such a row gets its own reason in the report instead of the whole job failing.
      if (!changedMeanwhile(error)) throw error;
      catalog = await loadCatalog();
      counts = await write();
    }
  };

  for await (const row of csvRows(params.uploadId)) {
    if (!header) {
      header = row.cells;
      continue;
    }
    seq++;
    bytes = row.bytes;
    if (seq <= resumeAfter) continue;
    batch.push({ seq, cells: row.cells });
    if (batch.length >= BATCH_ROWS) await flush();
  }
  await flush();
  if (!header) throw new ValidationError("The file has no header row.");
  if (apply) {
    await recordAudit(getDb(), ctx, {
      action: "users.import",
      targetType: "import",
      targetId: job.id,
      environment: job.environmentId ? { id: job.environmentId, key: catalog.envById.get(job.environmentId)?.key ?? "" } : null,
      after: counts,
    });
  }
  return counts;
}

registerJobHandler("import_dry_run", (job, ctx) => runImport(job, ctx, false));
registerJobHandler("import_apply", (job, ctx) => runImport(job, ctx, true));

const startImportInput = z.object({
  uploadId: uuidSchema,
  environmentId: uuidSchema,
  mapping: mappingSchema,
  apply: z.boolean().default(false),
});

/** Queues a dry run (or, after one, the apply) of an uploaded CSV. */
export async function startImport(ctx: DomainContext, input: unknown): Promise<Job> {
  const data = parseInput(startImportInput, input);
  // The import writes users into this environment: an environment admin only into theirs.
  authorize(ctx.actor, "users", "write", [data.environmentId]);
  const inspected = await inspectUpload(data.uploadId);
  const missing = [data.mapping.email, data.mapping.name, data.mapping.environments, ...Object.values(data.mapping.groups)]
    .filter((c): c is string => Boolean(c))
    .filter((c) => !inspected.columns.includes(c));
  if (missing.length) throw new ValidationError(`The file has no column ${missing.map((c) => `“${c}”`).join(", ")}.`, { mapping: missing.map((c) => `No column “${c}”.`) });
  const [{ bytes } = { bytes: 0 }] = await getDb().select({ bytes: uploads.bytes }).from(uploads).where(eq(uploads.id, data.uploadId));
  return enqueueJob(getDb(), ctx, {
    kind: data.apply ? "import_apply" : "import_dry_run",
    environmentId: data.environmentId,
    params: { uploadId: data.uploadId, mapping: data.mapping },
    total: bytes,
  });
}

/** A job's report lines in row order, `limit` at a time after `afterSeq` (for the page and the CSV). */
export async function importItems(jobId: string, options: { afterSeq?: number; limit?: number; outcome?: string } = {}) {
  return getDb()
    .select()
    .from(jobItems)
    .where(
      and(
        eq(jobItems.jobId, jobId),
        gt(jobItems.seq, options.afterSeq ?? 0),
        options.outcome ? eq(jobItems.outcome, options.outcome) : undefined,
      ),
    )
    .orderBy(asc(jobItems.seq))
    .limit(Math.min(options.limit ?? 1000, 5000));
}

