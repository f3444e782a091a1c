import { ZxcvbnFactory } from "@zxcvbn-ts/core";
import { ValidationError } from "@/lib/errors";
import * as common from "@zxcvbn-ts/language-common";
import * as en from "@zxcvbn-ts/language-en";

// Strength, not composition rules (NIST 800-63B, ASVS 5.0 6.2): at least 12 characters, at most
// 128, not a common password (zxcvbn-ts's common-password list) and a zxcvbn score of 3 or more,
// taking the user's own email and name into account.
export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 128;

let factory: ZxcvbnFactory | undefined;
function zxcvbn() {
  factory ??= new ZxcvbnFactory({
    translations: en.translations,
    graphs: common.adjacencyGraphs,
    dictionary: { ...common.dictionary, ...en.dictionary },
  });
  return factory;
}

const commonPasswords = new Set((common.dictionary["passwords-common"] as string[]).map((p) => p.toLowerCase()));

/** Problems with a proposed password, in plain words; empty when it is acceptable. */
export function passwordProblems(password: string, userInputs: string[] = []): string[] {
  if (password.length < PASSWORD_MIN_LENGTH) return [`Use at least ${PASSWORD_MIN_LENGTH} characters.`];
  if (password.length > PASSWORD_MAX_LENGTH) return [`Use at most ${PASSWORD_MAX_LENGTH} characters.`];
  if (commonPasswords.has(password.toLowerCase())) return ["This is one of the most common passwords; choose another."];
  const result = zxcvbn().check(password, userInputs.flatMap((s) => [s, ...s.split(/[@.\s]+/)]).filter(Boolean));
  if (result.score < 3) {
    const hint = result.feedback.warning || result.feedback.suggestions[0] || "Add more words or characters.";
    return [`This password is too easy to guess. ${hint}`.trim()];
  }
  return [];
}

/**
 * The one check of a new password every form that sets one makes (invitations and resets, of end
 * users and console members, and changes): typed the same twice, then strong enough. Throws the
 * field error.
 */
export function assertNewPassword(data: { password: string; confirm: string }, userInputs: string[]): void {
  if (data.password !== data.confirm) throw ValidationError.field("confirm", "The passwords do not match.");
  const problems = passwordProblems(data.password, userInputs);
  if (problems.length) throw new ValidationError(problems[0]!, { password: problems });
}
