CREATE TABLE "console_password_resets" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"member_id" uuid NOT NULL,
	"token_hash" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"used_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "console_password_resets" ADD CONSTRAINT "console_password_resets_member_id_console_members_id_fk" FOREIGN KEY ("member_id") REFERENCES "public"."console_members"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "console_password_resets_hash_key" ON "console_password_resets" USING btree ("token_hash");--> statement-breakpoint
CREATE INDEX "console_password_resets_member_idx" ON "console_password_resets" USING btree ("member_id");