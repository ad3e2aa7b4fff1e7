PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    task_family TEXT NOT NULL,
    task TEXT NOT NULL,
    task_parameters TEXT NOT NULL,
    engines TEXT NOT NULL,
    model_path TEXT NOT NULL,
    model_name TEXT NOT NULL,
    model_sha256 TEXT NOT NULL,
    chat_template TEXT NOT NULL,
    seed INTEGER NOT NULL,
    lmbench_version TEXT NOT NULL,
    machine TEXT NOT NULL,
    tags TEXT NOT NULL,
    command TEXT NOT NULL,
    planned_samples INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    finished_at TEXT
);
INSERT INTO runs VALUES(1,'70aa98f6bf09508a0bb500984dd86badcfe1fae1953ed7ff1fef2369afa79102','perplexity','perplexity','{"bucket":"4096","chat_template":"chatml","data":"/work/shared/data/longtext","documents":"moby-dick.txt,war-and-peace.txt","lengths":"32768","metric":"inverse_perplexity","samples":"1","seed":"42"}','[{"kind":"native","label":"full","parameters":{"chunk_size":"512","threads":"2"},"strategy":"full"},{"kind":"native","label":"lm-infinite","parameters":{"chunk_size":"512","distance_cap":"8192","n_global":"10","n_local":"8192","threads":"2","top_k":"0"},"strategy":"lm-infinite"},{"kind":"native","label":"streaming-llm","parameters":{"chunk_size":"512","n_local":"2000","n_sink":"4","threads":"2"},"strategy":"streaming-llm"}]','models/smollm2-135m-instruct-q4_1.gguf','Smollm2 135M 8k Lc100K Mix1 Ep2','b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53','chatml',42,'80fa38415855 (binary b12ff1e25b00)','{"cores":2,"cpu":"AMD EPYC","memoryBytes":25276182528,"os":"Debian GNU/Linux 12 (bookworm), Linux 6.18.44-fc-v1300"}','{}','lmbench run perplexity --model smollm2-135m-instruct --lengths 32k --engines full,lm-infinite,streaming-llm --samples 1 --bucket 4k --db results/smollm2-ppl-32k.sqlite',3,'2026-12-07T17:35:26Z','2026-12-07T17:45:09Z');
CREATE TABLE samples (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    engine TEXT NOT NULL,
    sample_key TEXT NOT NULL,
    task_family TEXT NOT NULL,
    task TEXT NOT NULL,
    dataset TEXT NOT NULL,
    sample_id TEXT NOT NULL,
    length INTEGER NOT NULL,
    length_unit TEXT NOT NULL,
    depth REAL,
    expected TEXT NOT NULL,
    output TEXT NOT NULL,
    score REAL,
    metric TEXT NOT NULL,
    metric_kind TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    truncated INTEGER NOT NULL,
    prefill_ms REAL,
    ttft_ms REAL,
    decode_ms REAL,
    decode_tokens INTEGER NOT NULL,
    decode_tokens_per_second REAL,
    peak_rss_bytes INTEGER,
    attention_state_bytes INTEGER,
    cpu_seconds REAL,
    involuntary_switches INTEGER,
    load_average REAL,
    contended INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL,
    error TEXT,
    finished_at TEXT NOT NULL,
    UNIQUE(run_id, engine, sample_key)
);
INSERT INTO samples VALUES(1,1,'full','perplexity/32768','perplexity','perplexity','perplexity','perplexity-32768',32768,'tokens',NULL,'[]','perplexity 591.2917 (mean NLL 6.3823 nats over 32767 tokens)',0.0016912125792761865776,'inverse_perplexity','continuous',32768,0,329609.15814900002443,329609.15814900002443,0.0,0,NULL,930582528,754974720,656.20820200000002844,10631,1.9699999999999999733,0,'ok',NULL,'2026-12-07T17:40:58Z');
INSERT INTO samples VALUES(2,1,'lm-infinite','perplexity/32768','perplexity','perplexity','perplexity','perplexity-32768',32768,'tokens',NULL,'[]','perplexity 38.4206 (mean NLL 3.6486 nats over 32767 tokens)',0.026027708033051866892,'inverse_perplexity','continuous',32768,0,172105.49964299998828,172105.49964299998828,0.0,0,NULL,411611136,200908800,342.73263300000007802,5546,2.0,0,'ok',NULL,'2026-12-07T17:43:50Z');
INSERT INTO samples VALUES(3,1,'streaming-llm','perplexity/32768','perplexity','perplexity','perplexity','perplexity-32768',32768,'tokens',NULL,'[]','perplexity 38.8118 (mean NLL 3.6587 nats over 32767 tokens)',0.025765339553129710387,'inverse_perplexity','continuous',32768,0,78747.6332240000047,78747.6332240000047,0.0,0,NULL,268951552,58245120,156.86048799999991842,2610,2.0,0,'ok',NULL,'2026-12-07T17:45:09Z');
CREATE TABLE sample_metrics (
    sample_id INTEGER NOT NULL REFERENCES samples(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value REAL,
    PRIMARY KEY (sample_id, name)
);
INSERT INTO sample_metrics VALUES(1,'bucket_tokens',4096.0);
INSERT INTO sample_metrics VALUES(1,'nll_bucket_00000000',3.6887572034785138797);
INSERT INTO sample_metrics VALUES(1,'nll_bucket_00004096',3.5467751369929203519);
INSERT INTO sample_metrics VALUES(1,'nll_bucket_00008192',4.1556581537198908904);
INSERT INTO sample_metrics VALUES(1,'nll_bucket_00012288',6.6124416128459415631);
INSERT INTO sample_metrics VALUES(1,'nll_bucket_00016384',7.8398985732737855869);
INSERT INTO sample_metrics VALUES(1,'nll_bucket_00020480',8.6600993986521643819);
INSERT INTO sample_metrics VALUES(1,'nll_bucket_00024576',8.2711279733903211308);
INSERT INTO sample_metrics VALUES(1,'nll_bucket_00028672',8.2830603804941347334);
INSERT INTO sample_metrics VALUES(1,'nll_mean',6.3823095047987479233);
INSERT INTO sample_metrics VALUES(1,'perplexity',591.29172302395295447);
INSERT INTO sample_metrics VALUES(1,'scored_tokens',32767.0);
INSERT INTO sample_metrics VALUES(1,'trained_context',8192.0);
INSERT INTO sample_metrics VALUES(2,'bucket_tokens',4096.0);
INSERT INTO sample_metrics VALUES(2,'nll_bucket_00000000',3.6887572034785138797);
INSERT INTO sample_metrics VALUES(2,'nll_bucket_00004096',3.5467751369929203519);
INSERT INTO sample_metrics VALUES(2,'nll_bucket_00008192',3.7470861103250996393);
INSERT INTO sample_metrics VALUES(2,'nll_bucket_00012288',3.5407423627974488056);
INSERT INTO sample_metrics VALUES(2,'nll_bucket_00016384',3.4065190226131640827);
INSERT INTO sample_metrics VALUES(2,'nll_bucket_00020480',3.6816833418494123719);
INSERT INTO sample_metrics VALUES(2,'nll_bucket_00024576',3.7840796773285934051);
INSERT INTO sample_metrics VALUES(2,'nll_bucket_00028672',3.7931158688186776828);
INSERT INTO sample_metrics VALUES(2,'nll_mean',3.648593614830024201);
INSERT INTO sample_metrics VALUES(2,'perplexity',38.420593881340899145);
INSERT INTO sample_metrics VALUES(2,'scored_tokens',32767.0);
INSERT INTO sample_metrics VALUES(2,'trained_context',8192.0);
INSERT INTO sample_metrics VALUES(3,'bucket_tokens',4096.0);
INSERT INTO sample_metrics VALUES(3,'nll_bucket_00000000',3.6882283080599576052);
INSERT INTO sample_metrics VALUES(3,'nll_bucket_00004096',3.5525181222450328277);
INSERT INTO sample_metrics VALUES(3,'nll_bucket_00008192',3.7609073333639226888);
INSERT INTO sample_metrics VALUES(3,'nll_bucket_00012288',3.5450283610772697073);
INSERT INTO sample_metrics VALUES(3,'nll_bucket_00016384',3.4204411584210241414);
INSERT INTO sample_metrics VALUES(3,'nll_bucket_00020480',3.7031075648643265729);
INSERT INTO sample_metrics VALUES(3,'nll_bucket_00024576',3.7949236856874044576);
INSERT INTO sample_metrics VALUES(3,'nll_bucket_00028672',3.8046536167000724049);
INSERT INTO sample_metrics VALUES(3,'nll_mean',3.65872511843648196);
INSERT INTO sample_metrics VALUES(3,'perplexity',38.811830829473009884);
INSERT INTO sample_metrics VALUES(3,'scored_tokens',32767.0);
INSERT INTO sample_metrics VALUES(3,'trained_context',8192.0);
CREATE TABLE model_hashes (path TEXT PRIMARY KEY, size INTEGER NOT NULL, modified REAL NOT NULL, sha256 TEXT NOT NULL);
INSERT INTO model_hashes VALUES('/work/main/models/smollm2-135m-instruct-q4_1.gguf',98362432,1796655830.4430327416,'b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53');
CREATE TABLE claims (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    engine TEXT NOT NULL,
    sample_key TEXT NOT NULL,
    claimer TEXT NOT NULL,
    host TEXT NOT NULL,
    boot_id TEXT NOT NULL,
    pid_namespace TEXT NOT NULL,
    pid INTEGER NOT NULL,
    start_ticks INTEGER NOT NULL,
    claimed_at TEXT NOT NULL,
    PRIMARY KEY (run_id, engine, sample_key)
);
CREATE TABLE run_sources (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    source_database TEXT NOT NULL,
    source_run_id INTEGER NOT NULL,
    shard TEXT,
    key TEXT NOT NULL,
    lmbench_version TEXT NOT NULL,
    machine TEXT NOT NULL,
    command TEXT NOT NULL,
    model_path TEXT NOT NULL,
    planned_samples INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    finished_at TEXT,
    merged_at TEXT NOT NULL
);
CREATE TABLE sample_sources (
    sample_id INTEGER PRIMARY KEY REFERENCES samples(id) ON DELETE CASCADE,
    source_id INTEGER NOT NULL REFERENCES run_sources(id) ON DELETE CASCADE
);
CREATE INDEX runs_by_key ON runs(key);
COMMIT;
PRAGMA user_version=5;
