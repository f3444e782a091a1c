CREATE TABLE "access_review_items" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"review_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"user_id" uuid,
	"group_id" uuid,
	"grant_id" uuid,
	"feature" text,
	"resource_id" uuid,
	"user_email" text,
	"user_name" text,
	"group_name" text,
	"resource_name" text,
	"decision" text,
	"comment" text,
	"decided_by" text,
	"decided_at" timestamp with time zone,
	"outcome" text,
	CONSTRAINT "access_review_items_kind_check" CHECK ("access_review_items"."kind" in ('membership', 'grant')),
	CONSTRAINT "access_review_items_decision_check" CHECK ("access_review_items"."decision" is null or "access_review_items"."decision" in ('keep', 'revoke'))
);
--> statement-breakpoint
CREATE TABLE "access_review_reviewers" (
	"review_id" uuid NOT NULL,
	"member_id" uuid NOT NULL,
	CONSTRAINT "access_review_reviewers_review_id_member_id_pk" PRIMARY KEY("review_id","member_id")
);
--> statement-breakpoint
CREATE TABLE "access_reviews" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"environment_id" uuid NOT NULL,
	"name" text NOT NULL,
	"scope" text NOT NULL,
	"scope_ids" uuid[] NOT NULL,
	"due_at" timestamp with time zone NOT NULL,
	"status" text DEFAULT 'open' NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"closed_at" timestamp with time zone,
	"closed_by" text,
	"report_csv" text,
	"report_sha256" text,
	CONSTRAINT "access_reviews_scope_check" CHECK ("access_reviews"."scope" in ('groups', 'resources')),
	CONSTRAINT "access_reviews_status_check" CHECK ("access_reviews"."status" in ('open', 'closed'))
);
--> statement-breakpoint
CREATE TABLE "membership_ledger" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "membership_ledger_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"kind" text NOT NULL,
	"op" text NOT NULL,
	"environment_id" uuid NOT NULL,
	"user_id" uuid,
	"group_id" uuid,
	"grant_id" uuid,
	"feature" text,
	"resource_id" uuid,
	"source" text,
	"user_email" text,
	"user_name" text,
	"group_name" text,
	"resource_name" text,
	CONSTRAINT "membership_ledger_kind_check" CHECK ("membership_ledger"."kind" in ('member', 'access', 'grant'))
);
--> statement-breakpoint
ALTER TABLE "access_review_items" ADD CONSTRAINT "access_review_items_review_id_access_reviews_id_fk" FOREIGN KEY ("review_id") REFERENCES "public"."access_reviews"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "access_review_reviewers" ADD CONSTRAINT "access_review_reviewers_review_id_access_reviews_id_fk" FOREIGN KEY ("review_id") REFERENCES "public"."access_reviews"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "access_review_reviewers" ADD CONSTRAINT "access_review_reviewers_member_id_console_members_id_fk" FOREIGN KEY ("member_id") REFERENCES "public"."console_members"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "access_reviews" ADD CONSTRAINT "access_reviews_environment_id_environments_id_fk" FOREIGN KEY ("environment_id") REFERENCES "public"."environments"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "access_review_items_review_idx" ON "access_review_items" USING btree ("review_id","group_name","user_email");--> statement-breakpoint
CREATE INDEX "access_review_reviewers_member_idx" ON "access_review_reviewers" USING btree ("member_id");--> statement-breakpoint
CREATE INDEX "access_reviews_env_idx" ON "access_reviews" USING btree ("environment_id","created_at");--> statement-breakpoint
CREATE INDEX "membership_ledger_group_idx" ON "membership_ledger" USING btree ("group_id","id");--> statement-breakpoint
CREATE INDEX "membership_ledger_user_idx" ON "membership_ledger" USING btree ("user_id","id");--> statement-breakpoint
CREATE INDEX "membership_ledger_grant_idx" ON "membership_ledger" USING btree ("grant_id","id");--> statement-breakpoint
-- The membership ledger is filled here, not by the application, so every door and every cascade
-- (a deleted user, group, resource or environment; a revoked environment removing memberships)
-- leaves its rows. One statement per changed statement (transition tables), names copied as of now.
CREATE FUNCTION ledger_group_members() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO membership_ledger (kind, op, environment_id, user_id, group_id, source, user_email, user_name, group_name)
    SELECT 'member', CASE WHEN TG_OP = 'INSERT' THEN 'add' ELSE 'remove' END, c.environment_id, c.user_id, c.group_id, c.source, u.email, u.name, g.name
    FROM changed c LEFT JOIN users u ON u.id = c.user_id LEFT JOIN groups g ON g.id = c.group_id;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER group_members_ledger_insert AFTER INSERT ON group_members REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION ledger_group_members();
--> statement-breakpoint
CREATE TRIGGER group_members_ledger_delete AFTER DELETE ON group_members REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION ledger_group_members();
--> statement-breakpoint
CREATE FUNCTION ledger_environment_access() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO membership_ledger (kind, op, environment_id, user_id, source, user_email, user_name)
    SELECT 'access', CASE WHEN TG_OP = 'INSERT' THEN 'add' ELSE 'remove' END, c.environment_id, c.user_id, c.source, u.email, u.name
    FROM changed c LEFT JOIN users u ON u.id = c.user_id;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER environment_access_ledger_insert AFTER INSERT ON environment_access REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION ledger_environment_access();
--> statement-breakpoint
CREATE TRIGGER environment_access_ledger_delete AFTER DELETE ON environment_access REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION ledger_environment_access();
--> statement-breakpoint
CREATE FUNCTION ledger_access_grants() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO membership_ledger (kind, op, environment_id, user_id, group_id, grant_id, feature, resource_id, user_email, user_name, group_name, resource_name)
    SELECT 'grant', CASE WHEN TG_OP = 'INSERT' THEN 'add' ELSE 'remove' END, c.environment_id, c.user_id, c.group_id, c.id, c.feature, c.resource_id, u.email, u.name, g.name, r.name
    FROM changed c LEFT JOIN users u ON u.id = c.user_id LEFT JOIN groups g ON g.id = c.group_id LEFT JOIN resources r ON r.id = c.resource_id;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER access_grants_ledger_insert AFTER INSERT ON access_grants REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION ledger_access_grants();
--> statement-breakpoint
CREATE TRIGGER access_grants_ledger_delete AFTER DELETE ON access_grants REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION ledger_access_grants();
--> statement-breakpoint
CREATE FUNCTION membership_ledger_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'membership_ledger is append-only: % is refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
--> statement-breakpoint
CREATE TRIGGER membership_ledger_append_only BEFORE UPDATE OR DELETE ON membership_ledger FOR EACH ROW EXECUTE FUNCTION membership_ledger_guard();
--> statement-breakpoint
CREATE TRIGGER membership_ledger_no_truncate BEFORE TRUNCATE ON membership_ledger FOR EACH STATEMENT EXECUTE FUNCTION membership_ledger_guard();
--> statement-breakpoint
-- What existed before the ledger: one 'add' row each, dated when it was made.
INSERT INTO membership_ledger (at, kind, op, environment_id, user_id, group_id, source, user_email, user_name, group_name)
  SELECT m.created_at, 'member', 'add', m.environment_id, m.user_id, m.group_id, m.source, u.email, u.name, g.name
  FROM group_members m JOIN users u ON u.id = m.user_id JOIN groups g ON g.id = m.group_id ORDER BY m.created_at;
--> statement-breakpoint
INSERT INTO membership_ledger (at, kind, op, environment_id, user_id, source, user_email, user_name)
  SELECT a.granted_at, 'access', 'add', a.environment_id, a.user_id, a.source, u.email, u.name
  FROM environment_access a JOIN users u ON u.id = a.user_id ORDER BY a.granted_at;
--> statement-breakpoint
INSERT INTO membership_ledger (at, kind, op, environment_id, user_id, group_id, grant_id, feature, resource_id, user_email, user_name, group_name, resource_name)
  SELECT c.created_at, 'grant', 'add', c.environment_id, c.user_id, c.group_id, c.id, c.feature, c.resource_id, u.email, u.name, g.name, r.name
  FROM access_grants c LEFT JOIN users u ON u.id = c.user_id LEFT JOIN groups g ON g.id = c.group_id LEFT JOIN resources r ON r.id = c.resource_id ORDER BY c.created_at;
