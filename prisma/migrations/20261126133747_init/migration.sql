-- CreateTable
CREATE TABLE "sync_node" (
    "id" INTEGER NOT NULL DEFAULT 1,
    "node_id" TEXT NOT NULL,
    "name" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "sync_node_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "sync_servers" (
    "id" SERIAL NOT NULL,
    "name" TEXT NOT NULL,
    "host" TEXT NOT NULL,
    "port" INTEGER NOT NULL,
    "protocol" TEXT NOT NULL DEFAULT 'http',
    "api_key" TEXT,
    "is_active" BOOLEAN NOT NULL DEFAULT true,
    "sync_enabled" BOOLEAN NOT NULL DEFAULT true,
    "sync_database" BOOLEAN NOT NULL DEFAULT true,
    "sync_instance_files" BOOLEAN NOT NULL DEFAULT true,
    "sync_config_files" BOOLEAN NOT NULL DEFAULT true,
    "sync_uploads" BOOLEAN NOT NULL DEFAULT true,
    "last_sync" TIMESTAMPTZ(3),
    "last_ping" TIMESTAMPTZ(3),
    "ping_success" BOOLEAN,
    "last_error" TEXT,
    "error_count" INTEGER NOT NULL DEFAULT 0,
    "server_id" TEXT,
    "server_version" TEXT,
    "sent_cursor" BIGINT NOT NULL DEFAULT 0,
    "received_cursor" BIGINT NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "sync_servers_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "sync_acks" (
    "server_id" INTEGER NOT NULL,
    "direction" TEXT NOT NULL,
    "from_seq" BIGINT NOT NULL,
    "to_seq" BIGINT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "sync_acks_pkey" PRIMARY KEY ("server_id","direction","from_seq")
);

-- CreateTable
CREATE TABLE "database_changes" (
    "sequence" BIGINT NOT NULL,
    "table_name" TEXT NOT NULL,
    "record_id" TEXT NOT NULL,
    "operation" TEXT NOT NULL,
    "change_data" JSONB,
    "old_data" JSONB,
    "timestamp" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "origin_node_id" TEXT NOT NULL,
    "origin_sequence" BIGINT NOT NULL,
    "hlc" BIGINT NOT NULL,

    CONSTRAINT "database_changes_pkey" PRIMARY KEY ("sequence")
);

-- CreateTable
CREATE TABLE "sync_row_versions" (
    "table_name" TEXT NOT NULL,
    "record_id" TEXT NOT NULL,
    "hlc" BIGINT NOT NULL,
    "origin_node_id" TEXT NOT NULL,
    "deleted" BOOLEAN NOT NULL DEFAULT false,

    CONSTRAINT "sync_row_versions_pkey" PRIMARY KEY ("table_name","record_id")
);

-- CreateTable
CREATE TABLE "sync_logs" (
    "id" SERIAL NOT NULL,
    "server_id" INTEGER,
    "operation" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "completed_at" TIMESTAMPTZ(3),
    "details" TEXT,
    "result" JSONB,
    "error_message" TEXT,

    CONSTRAINT "sync_logs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "sync_config" (
    "key" TEXT NOT NULL,
    "value" TEXT NOT NULL,
    "value_type" TEXT NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "sync_config_pkey" PRIMARY KEY ("key")
);

-- CreateTable
CREATE TABLE "file_checksums" (
    "directory" TEXT NOT NULL,
    "path" TEXT NOT NULL,
    "sha256" TEXT NOT NULL,
    "size" BIGINT NOT NULL,
    "mtime" TIMESTAMPTZ(3) NOT NULL,
    "change_seq" BIGINT NOT NULL,
    "deleted" BOOLEAN NOT NULL DEFAULT false,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "file_checksums_pkey" PRIMARY KEY ("directory","path")
);

-- CreateTable
CREATE TABLE "teams" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "team_number" INTEGER NOT NULL,
    "name" TEXT NOT NULL,
    "scouting_team_number" INTEGER NOT NULL,
    "is_active" BOOLEAN NOT NULL DEFAULT true,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "teams_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "events" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "code" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "start_date" DATE,
    "scouting_team_number" INTEGER NOT NULL,
    "is_active" BOOLEAN NOT NULL DEFAULT true,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "matches" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "event_id" UUID,
    "match_number" INTEGER NOT NULL,
    "comp_level" TEXT NOT NULL DEFAULT 'qm',
    "scouting_team_number" INTEGER NOT NULL,
    "is_active" BOOLEAN NOT NULL DEFAULT true,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "matches_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "scouting_data" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "team_number" INTEGER NOT NULL,
    "match_number" INTEGER NOT NULL,
    "event_id" UUID,
    "scouting_team_number" INTEGER NOT NULL,
    "scouter" TEXT,
    "data" JSONB NOT NULL DEFAULT '{}',
    "is_active" BOOLEAN NOT NULL DEFAULT true,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "scouting_data_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "sync_node_node_id_key" ON "sync_node"("node_id");

-- CreateIndex
CREATE UNIQUE INDEX "sync_servers_name_key" ON "sync_servers"("name");

-- CreateIndex
CREATE INDEX "database_changes_hlc_idx" ON "database_changes"("hlc");

-- CreateIndex
CREATE UNIQUE INDEX "database_changes_origin_node_id_origin_sequence_key" ON "database_changes"("origin_node_id", "origin_sequence");

-- CreateIndex
CREATE INDEX "sync_logs_server_id_started_at_idx" ON "sync_logs"("server_id", "started_at");

-- CreateIndex
CREATE INDEX "sync_logs_operation_started_at_idx" ON "sync_logs"("operation", "started_at");

-- CreateIndex
CREATE INDEX "file_checksums_directory_change_seq_idx" ON "file_checksums"("directory", "change_seq");

-- CreateIndex
CREATE INDEX "teams_scouting_team_number_idx" ON "teams"("scouting_team_number");

-- CreateIndex
CREATE INDEX "events_scouting_team_number_idx" ON "events"("scouting_team_number");

-- CreateIndex
CREATE INDEX "matches_scouting_team_number_idx" ON "matches"("scouting_team_number");

-- CreateIndex
CREATE INDEX "scouting_data_scouting_team_number_idx" ON "scouting_data"("scouting_team_number");

-- CreateIndex
CREATE INDEX "scouting_data_team_number_match_number_idx" ON "scouting_data"("team_number", "match_number");

-- AddForeignKey
ALTER TABLE "sync_acks" ADD CONSTRAINT "sync_acks_server_id_fkey" FOREIGN KEY ("server_id") REFERENCES "sync_servers"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "sync_logs" ADD CONSTRAINT "sync_logs_server_id_fkey" FOREIGN KEY ("server_id") REFERENCES "sync_servers"("id") ON DELETE SET NULL ON UPDATE CASCADE;
