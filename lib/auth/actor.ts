import type { ActorType, ConsoleRole } from "@/db/enums";

/** Who is acting. Every domain call receives one; it decides permissions and the audit row's actor. */
export type Actor =
  | { type: "console_member"; id: string; label: string; role: ConsoleRole; environmentIds: readonly string[] }
  | {
      type: "api_token";
      id: string;
      label: string;
      scope: "read" | "write" | "authz" | "reviewer";
      environmentIds: readonly string[] | null;
      /**
       * The console member who made the token: the person behind it, for separation of duties; a
       * reviewer-scoped token also acts for them (deciding their review items).
       */
      createdBy?: string | null;
    }
  | { type: "directory"; id: string; label: string; environmentIds: readonly string[] }
  | { type: "identity_provider"; id: string; label: string; environmentIds: readonly string[] }
  | { type: "end_user"; id: string; label: string; environmentIds: readonly string[] }
  | { type: "system"; id: null; label: string }
  /** A caller without valid credentials (a missing, bad or expired token): recorded on its denials, allowed nothing. */
  | { type: "anonymous"; id: null; label: string };

/** The actor plus what the audit trail records about the request. */
export type DomainContext = {
  actor: Actor;
  requestId?: string;
  ip?: string;
};

export const SYSTEM_ACTOR: Actor = { type: "system", id: null, label: "system" };

export function actorType(actor: Actor): ActorType {
  return actor.type;
}
