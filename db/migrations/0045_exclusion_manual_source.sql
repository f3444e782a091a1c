-- An access review's revocation of what an admin granted by hand is kept as an exclusion too
-- (source "manual"): otherwise the next SSO sign-in's JIT or group sync, or a directory, adds it back.
ALTER TABLE "membership_exclusions" DROP CONSTRAINT "membership_exclusions_source_check";--> statement-breakpoint
ALTER TABLE "membership_exclusions" ADD CONSTRAINT "membership_exclusions_source_check" CHECK ("membership_exclusions"."source" in ('scim', 'saml', 'jit', 'manual'));