import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHmac } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { sql } from "drizzle-orm";
import { getDb } from "@/db/client";
import { countRows, createEnvironments, memberCtx, systemCtx } from "@/test-support/fixtures";
import { sealAuditTrail } from "@/lib/audit/chain";
import { env } from "@/env";
import { createGroup } from "@/lib/groups";
import { createUser } from "@/lib/users";
import { RETRY_DELAYS_SECONDS, createWebhook, pruneDeliveredWebhooks, deleteWebhook, deliverDueWebhooks, listDeadDeliveries, listWebhooks, retryDelivery, setWebhookEnabled } from ".";

// A real HTTP receiver on loopback: records each request, answers with the next scripted status.
type Received = { headers: http.IncomingHttpHeaders; body: string };
const received: Received[] = [];
let script: number[] = [];
let whileAnswering: (() => Promise<unknown>) | null = null;
let server: http.Server;
let url: string;
// The receiver is on loopback, so private addresses are allowed here but in the test that refuses them.
const settings = () => env() as { ALLOW_PRIVATE_WEBHOOK_URLS: boolean };
beforeAll(async () => {
  await createEnvironments();
  settings().ALLOW_PRIVATE_WEBHOOK_URLS = true;
  server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", async () => {
      received.push({ headers: req.headers, body });
      // What happens elsewhere while this request waits for its answer (once).
      const hook = whileAnswering;
      whileAnswering = null;
      if (hook) await hook();
      res.statusCode = script.shift() ?? 200;
      res.end("ok");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

// The Standard Webhooks signature, computed here independently of the library that signs.
function expectedSignature(secret: string, r: Received) {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  return `v1,${createHmac("sha256", key).update(`${r.headers["webhook-id"]}.${r.headers["webhook-timestamp"]}.${r.body}`).digest("base64")}`;
}
const makeDue = () => getDb().execute(sql`update webhook_deliveries set next_attempt_at = now() where status = 'pending'`);

describe("signed webhooks", () => {
  it("delivers sealed events matching the endpoint's prefixes, signed, once each", async () => {
    received.length = 0;
    const { id, secret } = await createWebhook(systemCtx, { name: "SIEM", url, actions: ["user."] });
    const [dev] = await getDb().execute<{ id: string }>(sql`select id from environments where key = 'dev'`);
    const user = await createUser(systemCtx, { name: "Hooked", email: `hooked.${crypto.randomUUID().slice(0, 6)}@example.com`, environmentIds: [dev!.id] });
    await createGroup(systemCtx, { environmentId: dev!.id, name: `Not sent ${crypto.randomUUID().slice(0, 6)}` });
    // Nothing is delivered before the event is sealed: the outbox row is written by the seal.
    expect(await deliverDueWebhooks()).toEqual({ delivered: 0, failed: 0, dead: 0 });
    await sealAuditTrail();
    expect(await deliverDueWebhooks()).toMatchObject({ delivered: 1 });
    expect(received).toHaveLength(1);
    const [r] = received;
    expect(r!.headers["webhook-signature"]).toBe(expectedSignature(secret, r!));
    expect(Math.abs(Number(r!.headers["webhook-timestamp"]) - Date.now() / 1000)).toBeLessThan(30);
    const body = JSON.parse(r!.body);
    expect(body).toMatchObject({ type: "audit.event", data: { action: "user.create", target_id: user.id, seq: expect.any(Number), hash: expect.stringMatching(/^[0-9a-f]{64}$/) } });
    expect(body.data).not.toHaveProperty("prev_hash");
    // Delivered once: nothing left to send.
    expect(await deliverDueWebhooks()).toEqual({ delivered: 0, failed: 0, dead: 0 });
    expect((await listWebhooks()).find((w) => w.id === id)).toMatchObject({ delivered: 1, pending: 0, dead: 0 });
    await deleteWebhook(systemCtx, id);
  });

  it("retries a failing receiver with backoff, then dead-letters it; a retry from the dead-letter list delivers with the same webhook-id", async () => {
    received.length = 0;
    const { id } = await createWebhook(systemCtx, { name: "Flaky", url, actions: ["group.create"] });
    const [dev] = await getDb().execute<{ id: string }>(sql`select id from environments where key = 'dev'`);
    await createGroup(systemCtx, { environmentId: dev!.id, name: `Flaky ${crypto.randomUUID().slice(0, 6)}` });
    await sealAuditTrail();
    script = [500];
    expect(await deliverDueWebhooks()).toMatchObject({ delivered: 0, failed: 1 });
    const [row] = await getDb().execute<{ attempts: number; wait: number; last_error: string }>(
      sql`select attempts, extract(epoch from next_attempt_at - now())::int as wait, last_error from webhook_deliveries where endpoint_id = ${id}`,
    );
    expect(row).toMatchObject({ attempts: 1, last_error: "The receiver answered 500." });
    expect(row!.wait).toBeGreaterThanOrEqual(RETRY_DELAYS_SECONDS[0]! - 2);
    // Not due yet: nothing is sent.
    expect(await deliverDueWebhooks()).toMatchObject({ delivered: 0, failed: 0 });
    // Every retry fails until the last: dead.
    script = Array(RETRY_DELAYS_SECONDS.length).fill(503);
    for (let i = 0; i < RETRY_DELAYS_SECONDS.length; i++) {
      await makeDue();
      await deliverDueWebhooks();
    }
    const [dead] = (await listDeadDeliveries()).filter((d) => d.endpoint === "Flaky");
    expect(dead).toMatchObject({ action: "group.create", attempts: RETRY_DELAYS_SECONDS.length + 1, lastStatus: 503, lastError: "The receiver answered 503." });
    const ids = new Set(received.map((r) => r.headers["webhook-id"]));
    expect([received.length, ids.size]).toEqual([RETRY_DELAYS_SECONDS.length + 1, 1]);

    // Only owners and admins may send it again; then it is delivered.
    const refused = await retryDelivery(memberCtx("environment_admin", []), dead!.id).catch((e) => e);
    expect(refused.message).toBe("An environment admin cannot change webhooks.");
    await retryDelivery(systemCtx, dead!.id);
    script = [204];
    expect(await deliverDueWebhooks()).toMatchObject({ delivered: 1 });
    expect(received.at(-1)!.headers["webhook-id"]).toBe([...ids][0]);
    const again = await retryDelivery(systemCtx, dead!.id).catch((e) => e);
    expect(again.message).toBe("Only a dead delivery can be sent again.");
    // Its id, as any client sends it: digits, not true (Number(true) is 1), [id] or hex.
    for (const bad of [true, [dead!.id], `0x${dead!.id.toString(16)}`, " ", 1.5]) {
      expect(await retryDelivery(systemCtx, bad).catch((e) => e.message)).toBe("Not a delivery id.");
    }
    expect(await retryDelivery(systemCtx, String(dead!.id)).catch((e) => e.message)).toBe("Only a dead delivery can be sent again.");
    await deleteWebhook(systemCtx, id);
  });

  it("an unreachable receiver is retried like a failing one; a disabled endpoint gets nothing new", async () => {
    const { id } = await createWebhook(systemCtx, { name: "Down", url: "http://127.0.0.1:9/nothing-listens", actions: ["group.create"] });
    const [dev] = await getDb().execute<{ id: string }>(sql`select id from environments where key = 'dev'`);
    await createGroup(systemCtx, { environmentId: dev!.id, name: `Down ${crypto.randomUUID().slice(0, 6)}` });
    await sealAuditTrail();
    expect(await deliverDueWebhooks()).toMatchObject({ failed: 1 });
    const [row] = await getDb().execute<{ last_error: string }>(sql`select last_error from webhook_deliveries where endpoint_id = ${id}`);
    expect(row!.last_error).toMatch(/fetch failed|ECONNREFUSED/);
    // On or off is a boolean: "false" (which Boolean() reads as on) and nothing are refused, writing nothing.
    const audit = await countRows("audit_events");
    for (const bad of ["false", undefined, 0]) {
      expect(await setWebhookEnabled(systemCtx, id, bad as unknown as boolean).catch((e) => e.message)).toBe("Say whether the webhook is on or off.");
    }
    expect(await countRows("audit_events")).toBe(audit);
    await setWebhookEnabled(systemCtx, id, false);
    const before = await countRows("webhook_deliveries");
    await createGroup(systemCtx, { environmentId: dev!.id, name: `Down ${crypto.randomUUID().slice(0, 6)}` });
    await sealAuditTrail();
    expect(await countRows("webhook_deliveries")).toBe(before);
    await deleteWebhook(systemCtx, id);
  });

  it("refuses bad endpoints with field errors, and non-owners, writing nothing", async () => {
    const before = await countRows("webhook_endpoints");
    const bad = (input: object) => createWebhook(systemCtx, { name: "x", url: "https://siem.example/hooks", ...input }).catch((e) => e);
    expect((await bad({ url: "ftp://siem.example" })).fieldErrors).toEqual({ url: ["Webhooks are posted over https (plain http only to this machine)."] });
    expect((await bad({ url: "http://siem.example/hooks" })).fieldErrors).toEqual({ url: ["Webhooks are posted over https (plain http only to this machine)."] });
    expect((await bad({ url: "not a url" })).fieldErrors).toEqual({ url: ["Enter a full URL (https://…)."] });
    expect((await bad({ name: "" })).fieldErrors).toEqual({ name: ["Name the webhook."] });
    expect((await bad({ actions: ["User Create"] })).fieldErrors).toEqual({ "actions.0": ["An action prefix is lower-case letters, dots and underscores (e.g. user. or group.members)."] });
    const reviewer = await createWebhook(memberCtx("reviewer"), { name: "x", url: "https://siem.example/hooks" }).catch((e) => e);
    expect(reviewer.message).toBe("A reviewer cannot change webhooks.");
    expect(await countRows("webhook_endpoints")).toBe(before);
    // The secret is kept sealed, never in the clear.
    const { id, secret } = await createWebhook(systemCtx, { name: "Sealed", url: "https://siem.example/hooks" });
    const [row] = await getDb().execute<{ secret_sealed: string }>(sql`select secret_sealed from webhook_endpoints where id = ${id}`);
    expect(row!.secret_sealed).toMatch(/^v1\./);
    expect(row!.secret_sealed).not.toContain(secret.slice(6, 20));
    await deleteWebhook(systemCtx, id);
  });

  it("refuses private and loopback receivers unless allowed: when saved, and again when connecting", async () => {
    const [dev] = await getDb().execute<{ id: string }>(sql`select id from environments where key = 'dev'`);
    const port = (server.address() as AddressInfo).port;
    // Saved while allowed (as a host that resolved to a public address then would be).
    const literal = await createWebhook(systemCtx, { name: "Literal", url, actions: ["group.create"] });
    const named = await createWebhook(systemCtx, { name: "Named", url: `http://localhost:${port}/hooks`, actions: ["group.create"] });
    settings().ALLOW_PRIVATE_WEBHOOK_URLS = false;
    try {
      const before = await countRows("webhook_endpoints");
      for (const target of [url, `http://localhost:${port}/hooks`, "https://10.0.0.8/hooks", "https://169.254.169.254/latest/meta-data", "https://[::1]/hooks", "https://[fd00::1]/hooks", "https://[::ffff:127.0.0.1]/hooks", "https://[::ffff:a00:1]/hooks", "https://0x7f.1/hooks"]) {
        const refused = await createWebhook(systemCtx, { name: "Inside", url: target }).catch((e) => e);
        expect([target, refused.fieldErrors?.url?.[0]]).toEqual([target, expect.stringMatching(/resolves to a private or loopback address; only public addresses are reached \(ALLOW_PRIVATE_WEBHOOK_URLS allows it\)\.$/)]);
      }
      expect(await countRows("webhook_endpoints")).toBe(before);

      // Delivery checks the address it connects to: the address literal before connecting, the
      // name in the connection's own lookup. The receiver gets nothing.
      received.length = 0;
      await createGroup(systemCtx, { environmentId: dev!.id, name: `Inside ${crypto.randomUUID().slice(0, 6)}` });
      await sealAuditTrail();
      expect(await deliverDueWebhooks()).toMatchObject({ delivered: 0, failed: 2 });
      expect(received).toHaveLength(0);
      const rows = await getDb().execute<{ endpoint_id: string; last_error: string }>(
        sql`select endpoint_id, last_error from webhook_deliveries where endpoint_id in (${literal.id}, ${named.id})`,
      );
      expect(Object.fromEntries(rows.map((r) => [r.endpoint_id, r.last_error]))).toEqual({
        [literal.id]: "127.0.0.1 is a private or loopback address.",
        [named.id]: "localhost resolves to a private or loopback address.",
      });
    } finally {
      settings().ALLOW_PRIVATE_WEBHOOK_URLS = true;
    }
    // Allowed again, the same deliveries go through.
    await makeDue();
    expect(await deliverDueWebhooks()).toMatchObject({ delivered: 2 });
    expect(received).toHaveLength(2);
    await deleteWebhook(systemCtx, literal.id);
    await deleteWebhook(systemCtx, named.id);
  });

  it("a webhook turned off posts nothing, not even what was already due; its dead deliveries are not sent again until it is on", async () => {
    received.length = 0;
    const { id } = await createWebhook(systemCtx, { name: "Paused", url, actions: ["group.create"] });
    const [dev] = await getDb().execute<{ id: string }>(sql`select id from environments where key = 'dev'`);
    await createGroup(systemCtx, { environmentId: dev!.id, name: `Paused ${crypto.randomUUID().slice(0, 6)}` });
    await createGroup(systemCtx, { environmentId: dev!.id, name: `Paused ${crypto.randomUUID().slice(0, 6)}` });
    await sealAuditTrail();
    // One delivery dies (every attempt refused), one stays due.
    const [first] = await getDb().execute<{ id: number }>(sql`select id from webhook_deliveries where endpoint_id = ${id} order by id limit 1`);
    await getDb().execute(sql`update webhook_deliveries set status = 'dead', attempts = ${RETRY_DELAYS_SECONDS.length + 1} where id = ${first!.id}`);
    await setWebhookEnabled(systemCtx, id, false);
    expect(await deliverDueWebhooks()).toEqual({ delivered: 0, failed: 0, dead: 0 });
    expect(received).toHaveLength(0);
    expect(await retryDelivery(systemCtx, first!.id).catch((e) => [e.status, e.message])).toEqual([409, "This webhook is off: turn it on before sending its deliveries again."]);
    expect((await listWebhooks()).find((w) => w.id === id)).toMatchObject({ pending: 1, dead: 1, delivered: 0 });
    // On again: what was held is posted, and the dead one can be sent again.
    await setWebhookEnabled(systemCtx, id, true);
    await retryDelivery(systemCtx, first!.id);
    expect(await deliverDueWebhooks()).toMatchObject({ delivered: 2 });
    expect(received).toHaveLength(2);
    await deleteWebhook(systemCtx, id);
  });

  it("a webhook turned off while its batch is being posted posts nothing more: the rest wait, uncounted, until it is on", async () => {
    received.length = 0;
    const { id } = await createWebhook(systemCtx, { name: "Turned off", url, actions: ["group.create"] });
    const [dev] = await getDb().execute<{ id: string }>(sql`select id from environments where key = 'dev'`);
    await createGroup(systemCtx, { environmentId: dev!.id, name: `Off ${crypto.randomUUID().slice(0, 6)}` });
    await createGroup(systemCtx, { environmentId: dev!.id, name: `Off ${crypto.randomUUID().slice(0, 6)}` });
    await sealAuditTrail();
    whileAnswering = () => setWebhookEnabled(systemCtx, id, false);
    expect(await deliverDueWebhooks()).toEqual({ delivered: 1, failed: 0, dead: 0 });
    expect(received).toHaveLength(1);
    const rows = await getDb().execute<{ status: string; attempts: number }>(sql`select status, attempts from webhook_deliveries where endpoint_id = ${id} order by id`);
    expect(rows.map((r) => [r.status, r.attempts])).toEqual([["delivered", 1], ["pending", 0]]);
    await setWebhookEnabled(systemCtx, id, true);
    expect(await deliverDueWebhooks()).toMatchObject({ delivered: 1 });
    expect(received).toHaveLength(2);
    await deleteWebhook(systemCtx, id);
  });

  it("a delivery whose lease ran out and that another instance delivered is not set back by the first instance's late failure", async () => {
    received.length = 0;
    const { id } = await createWebhook(systemCtx, { name: "Slow", url, actions: ["group.create"] });
    const [dev] = await getDb().execute<{ id: string }>(sql`select id from environments where key = 'dev'`);
    await createGroup(systemCtx, { environmentId: dev!.id, name: `Slow ${crypto.randomUUID().slice(0, 6)}` });
    await sealAuditTrail();
    let second: Awaited<ReturnType<typeof deliverDueWebhooks>> | undefined;
    // While the first instance waits for the receiver, its lease runs out and a second instance
    // delivers the row (answered 200); then the first's request is answered 500.
    whileAnswering = async () => {
      await getDb().execute(sql`update webhook_deliveries set next_attempt_at = now() - interval '1 second' where endpoint_id = ${id}`);
      second = await deliverDueWebhooks();
    };
    script = [200, 500];
    const first = await deliverDueWebhooks();
    // The first instance's failure is not written (the row is no longer its claim), nor counted.
    expect([second, first]).toEqual([
      { delivered: 1, failed: 0, dead: 0 },
      { delivered: 0, failed: 0, dead: 0 },
    ]);
    const [row] = await getDb().execute<{ status: string; attempts: number; last_status: number }>(sql`select status, attempts, last_status from webhook_deliveries where endpoint_id = ${id}`);
    expect(row).toEqual({ status: "delivered", attempts: 1, last_status: 200 });
    await deleteWebhook(systemCtx, id);
  });

  it("refuses a URL that carries a password (it is shown to readers and kept in the trail) or is unbounded", async () => {
    const before = await countRows("webhook_endpoints");
    const bad = (u: string) => createWebhook(systemCtx, { name: "x", url: u }).catch((e) => e.fieldErrors);
    expect(await bad("https://svc:S3cretPass@siem.example/hooks")).toEqual({ url: ["A webhook URL must not carry a user name or password: the receiver checks the signature instead."] });
    expect(await bad(`https://siem.example/${"a".repeat(2000)}`)).toEqual({ url: ["A webhook URL has at most 2,000 characters."] });
    expect(await countRows("webhook_endpoints")).toBe(before);
  });

  it("hourly upkeep drops delivered deliveries after 30 days, keeping recent, pending and dead ones", async () => {
    const { id } = await createWebhook(systemCtx, { name: "Upkeep", url });
    const row = (status: string, age: string) =>
      getDb().execute<{ id: number }>(sql`insert into webhook_deliveries (endpoint_id, audit_id, status, delivered_at, created_at)
        values (${id}, 1, ${status}, case when ${status} = 'delivered' then now() - ${age}::interval end, now() - ${age}::interval) returning id`);
    const [old] = await row("delivered", "40 days");
    const [recent] = await row("delivered", "1 day");
    const [dead] = await row("dead", "40 days");
    expect(await pruneDeliveredWebhooks()).toBe(1);
    const left = await getDb().execute<{ id: number }>(sql`select id from webhook_deliveries where endpoint_id = ${id} order by id`);
    expect(left.map((r) => Number(r.id))).toEqual([Number(recent!.id), Number(dead!.id)]);
    expect(left.map((r) => Number(r.id))).not.toContain(Number(old!.id));
    await deleteWebhook(systemCtx, id);
  });
});
