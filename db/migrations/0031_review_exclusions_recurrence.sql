CREATE TABLE "membership_exclusions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"kind" text NOT NULL,
	"environment_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"group_id" uuid,
	"source" text NOT NULL,
	"directory_id" uuid,
	"identity_provider_id" uuid,
	"reason" text NOT NULL,
	"review_id" uuid,
	"review_item_id" uuid,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"lifted_at" timestamp with time zone,
	"lifted_by" text,
	CONSTRAINT "membership_exclusions_kind_check" CHECK ("membership_exclusions"."kind" in ('member', 'access')),
	CONSTRAINT "membership_exclusions_source_check" CHECK ("membership_exclusions"."source" in ('scim', 'saml', 'jit')),
	CONSTRAINT "membership_exclusions_group_check" CHECK (("membership_exclusions"."kind" = 'member') = ("membership_exclusions"."group_id" is not null))
);
--> statement-breakpoint
ALTER TABLE "access_review_items" DROP CONSTRAINT "access_review_items_kind_check";--> statement-breakpoint
ALTER TABLE "access_reviews" DROP CONSTRAINT "access_reviews_scope_check";--> statement-breakpoint
ALTER TABLE "jobs" DROP CONSTRAINT "jobs_kind_check";--> statement-breakpoint
ALTER TABLE "access_reviews" ADD COLUMN "recurrence_months" integer;--> statement-breakpoint
ALTER TABLE "access_reviews" ADD COLUMN "previous_id" uuid;--> statement-breakpoint
ALTER TABLE "access_reviews" ADD COLUMN "next_id" uuid;--> statement-breakpoint
ALTER TABLE "access_reviews" ADD COLUMN "reminded_soon_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "access_reviews" ADD COLUMN "reminded_due_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "membership_exclusions" ADD CONSTRAINT "membership_exclusions_environment_id_environments_id_fk" FOREIGN KEY ("environment_id") REFERENCES "public"."environments"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "membership_exclusions" ADD CONSTRAINT "membership_exclusions_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "membership_exclusions" ADD CONSTRAINT "membership_exclusions_group_id_groups_id_fk" FOREIGN KEY ("group_id") REFERENCES "public"."groups"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "membership_exclusions" ADD CONSTRAINT "membership_exclusions_directory_id_directories_id_fk" FOREIGN KEY ("directory_id") REFERENCES "public"."directories"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "membership_exclusions" ADD CONSTRAINT "membership_exclusions_identity_provider_id_identity_providers_id_fk" FOREIGN KEY ("identity_provider_id") REFERENCES "public"."identity_providers"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "membership_exclusions" ADD CONSTRAINT "membership_exclusions_review_id_access_reviews_id_fk" FOREIGN KEY ("review_id") REFERENCES "public"."access_reviews"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "membership_exclusions_member_key" ON "membership_exclusions" USING btree ("user_id","group_id") WHERE "membership_exclusions"."lifted_at" is null and "membership_exclusions"."kind" = 'member';--> statement-breakpoint
CREATE UNIQUE INDEX "membership_exclusions_access_key" ON "membership_exclusions" USING btree ("user_id","environment_id") WHERE "membership_exclusions"."lifted_at" is null and "membership_exclusions"."kind" = 'access';--> statement-breakpoint
CREATE INDEX "membership_exclusions_group_idx" ON "membership_exclusions" USING btree ("group_id");--> statement-breakpoint
CREATE INDEX "membership_exclusions_user_idx" ON "membership_exclusions" USING btree ("user_id","created_at");--> statement-breakpoint
ALTER TABLE "access_reviews" ADD CONSTRAINT "access_reviews_previous_id_access_reviews_id_fk" FOREIGN KEY ("previous_id") REFERENCES "public"."access_reviews"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "access_reviews" ADD CONSTRAINT "access_reviews_next_id_access_reviews_id_fk" FOREIGN KEY ("next_id") REFERENCES "public"."access_reviews"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "access_reviews_open_due_idx" ON "access_reviews" USING btree ("due_at") WHERE "access_reviews"."status" = 'open';--> statement-breakpoint
CREATE UNIQUE INDEX "access_reviews_next_key" ON "access_reviews" USING btree ("next_id");--> statement-breakpoint
ALTER TABLE "access_review_items" ADD CONSTRAINT "access_review_items_kind_check" CHECK ("access_review_items"."kind" in ('membership', 'grant', 'access'));--> statement-breakpoint
ALTER TABLE "access_reviews" ADD CONSTRAINT "access_reviews_recurrence_check" CHECK ("access_reviews"."recurrence_months" is null or "access_reviews"."recurrence_months" between 1 and 12);--> statement-breakpoint
ALTER TABLE "access_reviews" ADD CONSTRAINT "access_reviews_scope_check" CHECK ("access_reviews"."scope" in ('groups', 'resources', 'environment_access'));--> statement-breakpoint
ALTER TABLE "jobs" ADD CONSTRAINT "jobs_kind_check" CHECK ("jobs"."kind" in ('import_dry_run', 'import_apply', 'bulk_users', 'access_review_upkeep'));