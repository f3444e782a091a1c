CREATE TABLE "console_member_factors" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"member_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"name" text NOT NULL,
	"secret_sealed" text,
	"last_time_step" bigint,
	"credential_id" text,
	"public_key" text,
	"sign_count" bigint,
	"transports" text[],
	"confirmed_at" timestamp with time zone,
	"last_used_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "console_member_factors_kind_check" CHECK ("console_member_factors"."kind" in ('totp', 'passkey')),
	CONSTRAINT "console_member_factors_shape_check" CHECK (("console_member_factors"."kind" = 'totp' and "console_member_factors"."secret_sealed" is not null) or ("console_member_factors"."kind" = 'passkey' and "console_member_factors"."credential_id" is not null and "console_member_factors"."public_key" is not null))
);
--> statement-breakpoint
CREATE TABLE "console_recovery_codes" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"member_id" uuid NOT NULL,
	"code_hash" text NOT NULL,
	"used_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "console_recovery_codes_member_hash_key" UNIQUE("member_id","code_hash")
);
--> statement-breakpoint
CREATE TABLE "console_settings" (
	"id" boolean PRIMARY KEY DEFAULT true NOT NULL,
	"require_second_factor" boolean DEFAULT false NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "console_settings_one_row" CHECK ("console_settings"."id")
);
--> statement-breakpoint
CREATE TABLE "console_webauthn_challenges" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"member_id" uuid NOT NULL,
	"purpose" text NOT NULL,
	"challenge" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "console_webauthn_challenges_purpose_check" CHECK ("console_webauthn_challenges"."purpose" in ('register', 'authenticate'))
);
--> statement-breakpoint
ALTER TABLE "console_sessions" ADD COLUMN "second_factor_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "console_member_factors" ADD CONSTRAINT "console_member_factors_member_id_console_members_id_fk" FOREIGN KEY ("member_id") REFERENCES "public"."console_members"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "console_recovery_codes" ADD CONSTRAINT "console_recovery_codes_member_id_console_members_id_fk" FOREIGN KEY ("member_id") REFERENCES "public"."console_members"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "console_webauthn_challenges" ADD CONSTRAINT "console_webauthn_challenges_member_id_console_members_id_fk" FOREIGN KEY ("member_id") REFERENCES "public"."console_members"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "console_member_factors_member_idx" ON "console_member_factors" USING btree ("member_id");--> statement-breakpoint
CREATE UNIQUE INDEX "console_member_factors_credential_key" ON "console_member_factors" USING btree ("credential_id");--> statement-breakpoint
CREATE INDEX "console_webauthn_challenges_member_idx" ON "console_webauthn_challenges" USING btree ("member_id","purpose");