CREATE TABLE "environment_identity_providers" (
	"environment_id" uuid NOT NULL,
	"identity_provider_id" uuid NOT NULL,
	"domains" text[] NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "environment_identity_providers_environment_id_identity_provider_id_pk" PRIMARY KEY("environment_id","identity_provider_id")
);
--> statement-breakpoint
ALTER TABLE "identity_providers" ADD COLUMN "protocol" text DEFAULT 'saml' NOT NULL;--> statement-breakpoint
ALTER TABLE "identity_providers" ADD COLUMN "oidc_issuer" text;--> statement-breakpoint
ALTER TABLE "identity_providers" ADD COLUMN "oidc_client_id" text;--> statement-breakpoint
ALTER TABLE "identity_providers" ADD COLUMN "oidc_client_secret" text;--> statement-breakpoint
ALTER TABLE "identity_providers" ADD COLUMN "oidc_scopes" text DEFAULT 'openid email profile' NOT NULL;--> statement-breakpoint
ALTER TABLE "sso_requests" ADD COLUMN "code_verifier" text;--> statement-breakpoint
ALTER TABLE "environment_identity_providers" ADD CONSTRAINT "environment_identity_providers_environment_id_environments_id_fk" FOREIGN KEY ("environment_id") REFERENCES "public"."environments"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "environment_identity_providers" ADD CONSTRAINT "environment_identity_providers_identity_provider_id_identity_providers_id_fk" FOREIGN KEY ("identity_provider_id") REFERENCES "public"."identity_providers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "environment_identity_providers_idp_idx" ON "environment_identity_providers" USING btree ("identity_provider_id");--> statement-breakpoint
ALTER TABLE "identity_providers" ADD CONSTRAINT "identity_providers_protocol_check" CHECK ("identity_providers"."protocol" in ('saml', 'oidc'));--> statement-breakpoint
ALTER TABLE "identity_providers" ADD CONSTRAINT "identity_providers_oidc_check" CHECK ("identity_providers"."protocol" <> 'oidc' or ("identity_providers"."oidc_issuer" is not null and "identity_providers"."oidc_client_id" is not null));