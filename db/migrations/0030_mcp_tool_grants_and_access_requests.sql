CREATE TABLE "access_requests" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"environment_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"feature" text NOT NULL,
	"resource_id" uuid NOT NULL,
	"tool" text,
	"reason" text NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"decided_by" text,
	"decided_at" timestamp with time zone,
	"comment" text,
	"grant_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "access_requests_status_check" CHECK ("access_requests"."status" in ('pending', 'approved', 'denied')),
	CONSTRAINT "access_requests_feature_check" CHECK ("access_requests"."feature" in ('agent_studio', 'workato_go', 'mcp')),
	CONSTRAINT "access_requests_tool_check" CHECK ("access_requests"."tool" is null or ("access_requests"."feature" = 'mcp' and "access_requests"."tool" in ('whoami', 'my_groups', 'my_access', 'request_access')))
);
--> statement-breakpoint
ALTER TABLE "access_grants" DROP CONSTRAINT "access_grants_unique_key";--> statement-breakpoint
ALTER TABLE "access_grants" ADD COLUMN "tool" text;--> statement-breakpoint
ALTER TABLE "access_requests" ADD CONSTRAINT "access_requests_environment_id_environments_id_fk" FOREIGN KEY ("environment_id") REFERENCES "public"."environments"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "access_requests" ADD CONSTRAINT "access_requests_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "access_requests" ADD CONSTRAINT "access_requests_resource_id_resources_id_fk" FOREIGN KEY ("resource_id") REFERENCES "public"."resources"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "access_requests" ADD CONSTRAINT "access_requests_grant_id_access_grants_id_fk" FOREIGN KEY ("grant_id") REFERENCES "public"."access_grants"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "access_requests_pending_key" ON "access_requests" USING btree ("user_id","resource_id",coalesce("tool", '')) WHERE "access_requests"."status" = 'pending';--> statement-breakpoint
CREATE INDEX "access_requests_environment_idx" ON "access_requests" USING btree ("environment_id","status","created_at");--> statement-breakpoint
ALTER TABLE "access_grants" ADD CONSTRAINT "access_grants_unique_key" UNIQUE NULLS NOT DISTINCT("environment_id","feature","resource_id","group_id","user_id","tool");--> statement-breakpoint
ALTER TABLE "access_grants" ADD CONSTRAINT "access_grants_tool_check" CHECK ("access_grants"."tool" is null or ("access_grants"."feature" = 'mcp' and "access_grants"."resource_id" is not null and "access_grants"."tool" in ('whoami', 'my_groups', 'my_access', 'request_access')));