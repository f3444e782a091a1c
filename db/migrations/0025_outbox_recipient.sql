ALTER TABLE "email_outbox" ADD COLUMN "user_id" uuid;--> statement-breakpoint
ALTER TABLE "email_outbox" ADD CONSTRAINT "email_outbox_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
-- Messages sent before: their recipient as the address said then.
UPDATE "email_outbox" o SET "user_id" = u.id FROM "users" u WHERE lower(u.email) = lower(o."to");
