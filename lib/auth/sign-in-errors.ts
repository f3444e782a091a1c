// What the console's credentials sign-in answers the form (next-auth carries a thrown error's
// message as the result's `error`). Shared by lib/auth/options.ts and the sign-in form.

export const SIGN_IN_ERRORS = {
  /** The password was right; the member has a second factor: ask for the code and send both again. */
  codeRequired: "second_factor_required",
  /** The code was wrong, malformed or used already (counted toward the lockout). */
  codeWrong: "second_factor_wrong",
  /** The password was right, but console SSO keeps password sign-in for owners: use the IdP. */
  ssoRequired: "sso_required",
} as const;
