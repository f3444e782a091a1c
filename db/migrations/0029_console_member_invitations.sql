CREATE TABLE "console_invitations" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"member_id" uuid NOT NULL,
	"token_hash" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"used_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "console_members" DROP CONSTRAINT "console_members_status_check";--> statement-breakpoint
ALTER TABLE "console_members" ALTER COLUMN "password_hash" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "email_outbox" ADD COLUMN "console_member_id" uuid;--> statement-breakpoint
ALTER TABLE "console_invitations" ADD CONSTRAINT "console_invitations_member_id_console_members_id_fk" FOREIGN KEY ("member_id") REFERENCES "public"."console_members"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "console_invitations_hash_key" ON "console_invitations" USING btree ("token_hash");--> statement-breakpoint
CREATE INDEX "console_invitations_member_idx" ON "console_invitations" USING btree ("member_id");--> statement-breakpoint
ALTER TABLE "email_outbox" ADD CONSTRAINT "email_outbox_console_member_id_console_members_id_fk" FOREIGN KEY ("console_member_id") REFERENCES "public"."console_members"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "console_members" ADD CONSTRAINT "console_members_password_check" CHECK ("console_members"."status" = 'invited' or "console_members"."password_hash" is not null);--> statement-breakpoint
ALTER TABLE "console_members" ADD CONSTRAINT "console_members_status_check" CHECK ("console_members"."status" in ('invited', 'active', 'suspended'));