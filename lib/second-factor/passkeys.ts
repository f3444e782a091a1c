import "server-only";
import { and, eq, gt, sql } from "drizzle-orm";
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from "@simplewebauthn/server";
import { z } from "zod";
import type { Executor, Tx } from "@/db/client";
import { secondFactors, webauthnChallenges } from "@/db/schema";
import { ValidationError } from "@/lib/errors";
import { ownedBy, ownerColumns, type FactorOwner } from "./owner";
import { relyingParty } from "./relying-party";

// Passkeys (WebAuthn) as a console member's second factor, with @simplewebauthn/server. Each
// ceremony has its own challenge row (five minutes), deleted by the answer that uses it, so an
// answer is accepted once; an authentication must also come with a signature counter that moved
// forward (when the authenticator keeps one), which catches a cloned credential.

const CHALLENGE_MINUTES = 5;
type Purpose = "register" | "authenticate";

async function storeChallenge(executor: Executor, owner: FactorOwner, purpose: Purpose, challenge: string) {
  // Earlier unanswered challenges of the same purpose expire with this one.
  await executor.delete(webauthnChallenges).where(and(ownedBy(webauthnChallenges, owner), eq(webauthnChallenges.purpose, purpose)));
  await executor.insert(webauthnChallenges).values({ ...ownerColumns(owner), purpose, challenge, expiresAt: sql`now() + make_interval(mins => ${CHALLENGE_MINUTES})` });
}

/** Takes the owner's live challenge of `purpose` (deleting it: it serves one answer), or null. */
async function takeChallenge(tx: Tx, owner: FactorOwner, purpose: Purpose): Promise<string | null> {
  const [row] = await tx
    .delete(webauthnChallenges)
    .where(and(ownedBy(webauthnChallenges, owner), eq(webauthnChallenges.purpose, purpose), gt(webauthnChallenges.expiresAt, sql`now()`)))
    .returning({ challenge: webauthnChallenges.challenge });
  return row?.challenge ?? null;
}

async function passkeysOf(executor: Executor, owner: FactorOwner) {
  return executor
    .select()
    .from(secondFactors)
    .where(and(ownedBy(secondFactors, owner), eq(secondFactors.kind, "passkey"), sql`${secondFactors.confirmedAt} is not null`));
}

/** What the browser needs to create a passkey for the owner (the ones they have are excluded). */
export async function passkeyRegistrationOptions(tx: Tx, owner: FactorOwner, account: string): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const { rpID, rpName } = relyingParty();
  const options = await generateRegistrationOptions({
    rpName,
    rpID,
    userName: account,
    userID: new TextEncoder().encode(`${owner.kind}:${owner.id}`),
    attestationType: "none",
    excludeCredentials: (await passkeysOf(tx, owner)).map((p) => ({ id: p.credentialId!, transports: p.transports ?? undefined })),
    authenticatorSelection: { residentKey: "preferred", userVerification: "preferred" },
  });
  await storeChallenge(tx, owner, "register", options.challenge);
  return options;
}

const registrationSchema = z.object({ id: z.string(), rawId: z.string(), type: z.literal("public-key"), response: z.object({ clientDataJSON: z.string(), attestationObject: z.string() }).loose() }).loose();

/** Verifies the browser's new passkey against the member's registration challenge: the credential to store. */
export async function verifyPasskeyRegistration(tx: Tx, owner: FactorOwner, response: unknown): Promise<{ credentialId: string; publicKey: string; signCount: number; transports: string[] }> {
  const parsed = registrationSchema.safeParse(response);
  if (!parsed.success) throw ValidationError.field("response", "This is not a passkey registration.");
  const challenge = await takeChallenge(tx, owner, "register");
  if (!challenge) throw ValidationError.field("response", "The passkey request expired: start again.");
  const { rpID, origin } = relyingParty();
  const result = await verifyRegistrationResponse({ response: parsed.data as unknown as RegistrationResponseJSON, expectedChallenge: challenge, expectedOrigin: origin, expectedRPID: rpID, requireUserVerification: false }).catch(
    (error: Error) => {
      throw ValidationError.field("response", `The passkey could not be verified: ${error.message}`);
    },
  );
  if (!result.verified) throw ValidationError.field("response", "The passkey could not be verified.");
  const { credential } = result.registrationInfo;
  return {
    credentialId: credential.id,
    publicKey: Buffer.from(credential.publicKey).toString("base64url"),
    signCount: credential.counter,
    transports: credential.transports ?? [],
  };
}

/** What the browser needs to sign in with one of the owner's passkeys; null when they have none. */
export async function passkeyAuthenticationOptions(executor: Executor, owner: FactorOwner): Promise<PublicKeyCredentialRequestOptionsJSON | null> {
  const passkeys = await passkeysOf(executor, owner);
  if (passkeys.length === 0) return null;
  const options = await generateAuthenticationOptions({
    rpID: relyingParty().rpID,
    allowCredentials: passkeys.map((p) => ({ id: p.credentialId!, transports: p.transports ?? undefined })),
    userVerification: "preferred",
  });
  await storeChallenge(executor, owner, "authenticate", options.challenge);
  return options;
}

/** Whether a typed "code" is a passkey's answer (the browser's JSON) rather than a code. */
export const isPasskeyAnswer = (input: string) => input.trimStart().startsWith("{");

const authenticationSchema = z.object({ id: z.string(), rawId: z.string(), type: z.literal("public-key"), response: z.object({ clientDataJSON: z.string(), authenticatorData: z.string(), signature: z.string() }).loose() }).loose();

/**
 * Checks a passkey's answer for the owner: their live authentication challenge (taken, so the
 * answer works once), one of their passkeys, a valid signature, and a counter that moved forward.
 */
export async function checkPasskey(tx: Tx, owner: FactorOwner, input: string): Promise<{ ok: true; factorId: string } | { ok: false; reason: "malformed" | "wrong" | "replayed" }> {
  let json: unknown;
  try {
    json = JSON.parse(input);
  } catch {
    return { ok: false, reason: "malformed" };
  }
  const parsed = authenticationSchema.safeParse(json);
  if (!parsed.success) return { ok: false, reason: "malformed" };
  const challenge = await takeChallenge(tx, owner, "authenticate");
  if (!challenge) return { ok: false, reason: "replayed" };
  const [passkey] = (await passkeysOf(tx, owner)).filter((p) => p.credentialId === parsed.data.id);
  if (!passkey) return { ok: false, reason: "wrong" };
  const { rpID, origin } = relyingParty();
  const result = await verifyAuthenticationResponse({
    response: parsed.data as unknown as AuthenticationResponseJSON,
    expectedChallenge: challenge,
    expectedOrigin: origin,
    expectedRPID: rpID,
    credential: { id: passkey.credentialId!, publicKey: new Uint8Array(Buffer.from(passkey.publicKey!, "base64url")), counter: passkey.signCount ?? 0, transports: passkey.transports ?? undefined },
    requireUserVerification: false,
  }).catch(() => null);
  if (!result?.verified) return { ok: false, reason: "wrong" };
  await tx
    .update(secondFactors)
    .set({ signCount: result.authenticationInfo.newCounter, lastUsedAt: sql`now()` })
    .where(eq(secondFactors.id, passkey.id));
  return { ok: true, factorId: passkey.id };
}
