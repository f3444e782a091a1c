CREATE TABLE "environment_branding" (
	"environment_id" uuid PRIMARY KEY NOT NULL,
	"display_name" text DEFAULT '' NOT NULL,
	"primary_color" text DEFAULT '#1f57cc' NOT NULL,
	"background_color" text DEFAULT '#f8fafc' NOT NULL,
	"message" text DEFAULT '' NOT NULL,
	"support_url" text,
	"logo" "bytea",
	"logo_type" text,
	"logo_version" integer DEFAULT 0 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "environment_branding_logo_type_check" CHECK ("environment_branding"."logo_type" is null or "environment_branding"."logo_type" in ('image/png', 'image/svg+xml')),
	CONSTRAINT "environment_branding_colors_check" CHECK ("environment_branding"."primary_color" ~ '^#[0-9a-f]{6}$' and "environment_branding"."background_color" ~ '^#[0-9a-f]{6}$')
);
--> statement-breakpoint
ALTER TABLE "environment_branding" ADD CONSTRAINT "environment_branding_environment_id_environments_id_fk" FOREIGN KEY ("environment_id") REFERENCES "public"."environments"("id") ON DELETE cascade ON UPDATE no action;