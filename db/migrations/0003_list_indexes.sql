DROP INDEX "users_last_sign_in_idx";--> statement-breakpoint
CREATE INDEX "users_email_sort_idx" ON "users" USING btree (lower("email"),"id");--> statement-breakpoint
CREATE INDEX "users_status_sort_idx" ON "users" USING btree ("status","id");--> statement-breakpoint
CREATE INDEX "users_source_sort_idx" ON "users" USING btree ("source","id");--> statement-breakpoint
CREATE INDEX "users_last_sign_in_idx" ON "users" USING btree (coalesce("last_sign_in_at", '-infinity'::timestamptz),"id");