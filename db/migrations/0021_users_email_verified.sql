ALTER TABLE "users" ADD COLUMN "email_verified_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "email_verified_by" text;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "email_verified_environment_id" uuid;--> statement-breakpoint
ALTER TABLE "users" ADD CONSTRAINT "users_email_verified_by_check" CHECK ("users"."email_verified_by" in ('link', 'directory', 'identity_provider'));--> statement-breakpoint
-- Emails proven before this migration: a password set through a mailed link, a directory's user,
-- an IdP-linked user (in the environment the directory or the sign-in granted).
UPDATE "users" SET "email_verified_at" = coalesce("password_changed_at", now()), "email_verified_by" = 'link' WHERE "password_hash" IS NOT NULL;--> statement-breakpoint
UPDATE "users" u SET "email_verified_at" = du.created_at, "email_verified_by" = 'directory', "email_verified_environment_id" = d.environment_id
  FROM "directory_users" du JOIN "directories" d ON d.id = du.directory_id
  WHERE du.user_id = u.id AND u.email_verified_at IS NULL AND u.email NOT LIKE '%.invalid';--> statement-breakpoint
UPDATE "users" u SET "email_verified_at" = ui.created_at, "email_verified_by" = 'identity_provider', "email_verified_environment_id" = ea.environment_id
  FROM "user_identities" ui JOIN "environment_access" ea ON ea.user_id = ui.user_id AND ea.source = 'jit'
  WHERE ui.user_id = u.id AND u.email_verified_at IS NULL;
