import { publicOrigin } from "@/env";

// WebAuthn's relying party is this console's public origin (NEXTAUTH_URL): the RP ID is its host
// name, and an assertion is accepted only from that exact origin. Passkeys registered under one
// host name do not work under another, so changing NEXTAUTH_URL's host orphans them (README,
// Production checklist).

export function relyingParty(): { rpID: string; rpName: string; origin: string } {
  const origin = publicOrigin();
  return { rpID: new URL(origin).hostname, rpName: "IAM Console", origin };
}
