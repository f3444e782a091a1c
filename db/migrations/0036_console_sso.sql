CREATE TABLE "console_sso" (
	"id" boolean PRIMARY KEY DEFAULT true NOT NULL,
	"enabled" boolean DEFAULT false NOT NULL,
	"identity_provider_id" uuid,
	"password_sign_in" text DEFAULT 'everyone' NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "console_sso_one_row" CHECK ("console_sso"."id"),
	CONSTRAINT "console_sso_password_check" CHECK ("console_sso"."password_sign_in" in ('everyone', 'owners')),
	CONSTRAINT "console_sso_enabled_check" CHECK (not "console_sso"."enabled" or "console_sso"."identity_provider_id" is not null)
);
--> statement-breakpoint
CREATE TABLE "console_sso_mappings" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"idp_value" text NOT NULL,
	"role" text NOT NULL,
	"environment_ids" uuid[] DEFAULT '{}'::uuid[] NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "console_sso_mappings_role_check" CHECK ("console_sso_mappings"."role" in ('admin', 'environment_admin', 'reviewer'))
);
--> statement-breakpoint
ALTER TABLE "console_members" DROP CONSTRAINT "console_members_password_check";--> statement-breakpoint
ALTER TABLE "sso_requests" ALTER COLUMN "environment_id" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "console_members" ADD COLUMN "sso_identity_provider_id" uuid;--> statement-breakpoint
ALTER TABLE "console_members" ADD COLUMN "sso_subject" text;--> statement-breakpoint
ALTER TABLE "console_sessions" ADD COLUMN "method" text DEFAULT 'password' NOT NULL;--> statement-breakpoint
ALTER TABLE "console_sessions" ADD COLUMN "authn_context" text;--> statement-breakpoint
ALTER TABLE "sso_requests" ADD COLUMN "purpose" text DEFAULT 'environment' NOT NULL;--> statement-breakpoint
ALTER TABLE "console_sso" ADD CONSTRAINT "console_sso_identity_provider_id_identity_providers_id_fk" FOREIGN KEY ("identity_provider_id") REFERENCES "public"."identity_providers"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "console_sso_mappings_value_key" ON "console_sso_mappings" USING btree ("idp_value");--> statement-breakpoint
ALTER TABLE "console_members" ADD CONSTRAINT "console_members_sso_identity_provider_id_identity_providers_id_fk" FOREIGN KEY ("sso_identity_provider_id") REFERENCES "public"."identity_providers"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "console_members_sso_key" ON "console_members" USING btree ("sso_identity_provider_id","sso_subject");--> statement-breakpoint
ALTER TABLE "console_members" ADD CONSTRAINT "console_members_password_check" CHECK ("console_members"."status" = 'invited' or "console_members"."password_hash" is not null or "console_members"."sso_subject" is not null);--> statement-breakpoint
ALTER TABLE "console_sessions" ADD CONSTRAINT "console_sessions_method_check" CHECK ("console_sessions"."method" in ('password', 'sso'));--> statement-breakpoint
ALTER TABLE "sso_requests" ADD CONSTRAINT "sso_requests_purpose_check" CHECK (("sso_requests"."purpose" = 'console') = ("sso_requests"."environment_id" is null) and "sso_requests"."purpose" in ('environment', 'console'));