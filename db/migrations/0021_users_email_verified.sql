ALTER TABLE "users" ADD COLUMN "email_verified_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "email_verified_by" text;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "email_verified_environment_id" uuid;--> statement-breakpoint
ALTER TABLE "users" ADD CONSTRAINT "users_email_verified_by_check" CHECK ("users"."email_verified_by" in ('link', 'directory', 'identity_provider'));--> statement-breakpoint
-- Emails proven before this migration: a password set through a mailed link, a user a directory or
-- an IdP created (in the environment the directory or the sign-in granted); users linked by email
-- before proofs existed are not counted.
-- (A password set through a link proves the address it was set at: not when an admin changed the
-- email after it.)
UPDATE "users" u SET "email_verified_at" = coalesce(u."password_changed_at", now()), "email_verified_by" = 'link'
  WHERE u."password_hash" IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM "audit_events" a WHERE a.target_type = 'user' AND a.target_id = u.id::text AND a.action = 'user.update'
      AND a.after ? 'email' AND a.occurred_at >= coalesce(u."password_changed_at", '-infinity'));--> statement-breakpoint
UPDATE "users" u SET "email_verified_at" = du.created_at, "email_verified_by" = 'directory', "email_verified_environment_id" = d.environment_id
  FROM "directory_users" du JOIN "directories" d ON d.id = du.directory_id
  WHERE du.user_id = u.id AND u.source = 'scim' AND u.email_verified_at IS NULL AND u.email NOT LIKE '%.invalid';--> statement-breakpoint
UPDATE "users" u SET "email_verified_at" = ui.created_at, "email_verified_by" = 'identity_provider', "email_verified_environment_id" = ea.environment_id
  FROM "user_identities" ui JOIN "environment_access" ea ON ea.user_id = ui.user_id AND ea.source = 'jit'
  WHERE ui.user_id = u.id AND u.source = 'jit' AND u.email_verified_at IS NULL;
