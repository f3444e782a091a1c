ALTER TABLE "api_tokens" DROP CONSTRAINT "api_tokens_scope_check";--> statement-breakpoint
ALTER TABLE "environment_auth" ADD COLUMN "token_lifetime_seconds" integer DEFAULT 600 NOT NULL;--> statement-breakpoint
ALTER TABLE "api_tokens" ADD CONSTRAINT "api_tokens_scope_check" CHECK ("api_tokens"."scope" in ('read', 'write', 'authz'));--> statement-breakpoint
ALTER TABLE "environment_auth" ADD CONSTRAINT "environment_auth_token_lifetime" CHECK ("environment_auth"."token_lifetime_seconds" between 60 and 3600);