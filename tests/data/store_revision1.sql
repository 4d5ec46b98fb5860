BEGIN TRANSACTION;
CREATE TABLE entry_scores (
	id INTEGER NOT NULL, 
	submission_id INTEGER NOT NULL, 
	position INTEGER NOT NULL, 
	env_id VARCHAR(200) NOT NULL, 
	label VARCHAR(200) NOT NULL, 
	mean_return FLOAT NOT NULL, 
	score FLOAT NOT NULL, 
	score_low FLOAT NOT NULL, 
	score_high FLOAT NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(submission_id) REFERENCES submissions (id)
);
INSERT INTO "entry_scores" VALUES(1,1,0,'icltest/TinyRegression-v0','TinyRegression',-3.38042775721746346917e+00,9.23914448556507323945e+01,2.86556835634549749158e+01,1.4274621193891508142e+02);
INSERT INTO "entry_scores" VALUES(2,1,1,'icltest/Guess-v0','Guess',1.0,100.0,100.0,100.0);
INSERT INTO "entry_scores" VALUES(3,2,0,'icltest/TinyRegression-v0','TinyRegression',-3.38042775721746346917e+00,9.23914448556507323945e+01,2.86556835634549749158e+01,1.4274621193891508142e+02);
INSERT INTO "entry_scores" VALUES(4,2,1,'icltest/Guess-v0','Guess',1.0,100.0,100.0,100.0);
CREATE TABLE submissions (
	id INTEGER NOT NULL, 
	content_hash VARCHAR(64) NOT NULL, 
	suite VARCHAR(64) NOT NULL, 
	agent_reference VARCHAR(500) NOT NULL, 
	config_hash VARCHAR(64) NOT NULL, 
	complete BOOLEAN NOT NULL, 
	iqm FLOAT NOT NULL, 
	iqm_low FLOAT NOT NULL, 
	iqm_high FLOAT NOT NULL, 
	submitted_at DATETIME NOT NULL, 
	results_json TEXT NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO "submissions" VALUES(1,'7a23a24cf04e72a4b4f280e0043962ec245e5860a1158d17db3df7c4d5a093a3','tiny-v0','leaderboard_fixtures:SweepAgent','44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',1,9.65909516772689755691e+01,9.16880660711761379371e+01,1.03717197857762016615e+02,'2026-12-03 08:02:48.315860','{"format":"icl-bench-results","format_version":1,"suite":"tiny-v0","suite_hash":"ed09d9364657ce2abbdf8c40300513bf036f3b8730dd4dbf13c8a670dd4afc6d","references_version":0,"seed_set":"dev","agent":{"reference":"leaderboard_fixtures:SweepAgent","config":{},"config_hash":"44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},"entries":[{"env_id":"icltest/TinyRegression-v0","kwargs":{},"label":"TinyRegression","seeds":[10000,20000,30000],"returns":[[-0.6323918486279937,-1.4444678908498094,-0.00675373834984602,-1.9113418772688482,-24.192398690463836,-0.28020872596362195,-0.853827925343544,-0.13308661950213152],[-0.15789033087933327,-2.753392116830921,-0.08151319917652997,-14.023546141188945,-0.15359916764982207,-0.2563451236701477,-0.02729082621078044,-3.572664808183926],[-0.07929318278003418,-0.09816292866754087,-3.548897804968,-0.10415125739919054,-0.3551057125656524,-26.173796454191947,-0.10015812354248373,-0.18998167894423898]],"episode_lengths":[[4,4,4,4,4,4,4,4],[4,4,4,4,4,4,4,4],[4,4,4,4,4,4,4,4]],"mean_return":-3.3804277572174635,"normalized_score":{"value":92.39144485565073,"low":28.655683563454975,"high":142.74621193891508},"seed_scores":[86.36380670907592,107.434395715524,83.37613214235229],"errors_by_context":[3.104264363248568,0.2761633939688343,5.1037852009834266e-14,1.0033429273086507e-14],"parse_failures":null,"wall_time_s":0.01877316699938092},{"env_id":"icltest/Guess-v0","kwargs":{},"label":"Guess","seeds":[10000,20000,30000],"returns":[[1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0],[1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0],[1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0]],"episode_lengths":[[1,2,3,1,2,2,2,1,2,3],[3,3,2,2,1,1,1,2,1,1],[3,3,3,1,1,2,1,3,2,2]],"mean_return":1.0,"normalized_score":{"value":100.0,"low":100.0,"high":100.0},"seed_scores":[100.0,100.0,100.0],"errors_by_context":null,"parse_failures":null,"wall_time_s":0.007377691000328923}],"complete":true,"aggregates":{"iqm":{"value":96.59095167726898,"low":91.68806607117614,"high":103.71719785776202},"mean":{"value":96.19572242782537,"low":91.68806607117614,"high":103.717197857762},"median":{"value":96.19572242782536,"low":91.68806607117614,"high":103.71719785776199},"optimality_gap":{"value":5.043343524761966,"low":0.0,"high":8.311933928823862}},"bootstrap":{"reps":2000,"seed":0,"confidence":0.95},"versions":{"python":"3.11.7","numpy":"2.4.6","gymnasium":"1.4.0","icl-envs":"0.1.0"},"hardware":{"platform":"Linux-6.18.44-fc-v1147-x86_64-with-glibc2.36","machine":"x86_64","processor":"x86_64","cpu_count":2},"wall_time_s":0.026315605000490905,"created":"2026-12-03T08:02:48+00:00"}');
INSERT INTO "submissions" VALUES(2,'6a9d9b01b5dd670606cd52cfea1e3ce6da5b0454bda2c91d35c947b3d4cdaf99','tiny-v0','leaderboard_fixtures:SweepAgent','3c566884b470c2b60f8a30de36baed40694374bcaf7d2447b304601f8e91b1f9',1,9.65909516772689755691e+01,9.16880660711761379371e+01,1.03717197857762016615e+02,'2026-12-03 08:02:48.331678','{"format":"icl-bench-results","format_version":1,"suite":"tiny-v0","suite_hash":"ed09d9364657ce2abbdf8c40300513bf036f3b8730dd4dbf13c8a670dd4afc6d","references_version":0,"seed_set":"dev","agent":{"reference":"leaderboard_fixtures:SweepAgent","config":{"lr":0.5,"prompt":"<img src=x onerror=alert(1)>"},"config_hash":"3c566884b470c2b60f8a30de36baed40694374bcaf7d2447b304601f8e91b1f9"},"entries":[{"env_id":"icltest/TinyRegression-v0","kwargs":{},"label":"TinyRegression","seeds":[10000,20000,30000],"returns":[[-0.6323918486279937,-1.4444678908498094,-0.00675373834984602,-1.9113418772688482,-24.192398690463836,-0.28020872596362195,-0.853827925343544,-0.13308661950213152],[-0.15789033087933327,-2.753392116830921,-0.08151319917652997,-14.023546141188945,-0.15359916764982207,-0.2563451236701477,-0.02729082621078044,-3.572664808183926],[-0.07929318278003418,-0.09816292866754087,-3.548897804968,-0.10415125739919054,-0.3551057125656524,-26.173796454191947,-0.10015812354248373,-0.18998167894423898]],"episode_lengths":[[4,4,4,4,4,4,4,4],[4,4,4,4,4,4,4,4],[4,4,4,4,4,4,4,4]],"mean_return":-3.3804277572174635,"normalized_score":{"value":92.39144485565073,"low":28.655683563454975,"high":142.74621193891508},"seed_scores":[86.36380670907592,107.434395715524,83.37613214235229],"errors_by_context":[3.104264363248568,0.2761633939688343,5.1037852009834266e-14,1.0033429273086507e-14],"parse_failures":null,"wall_time_s":0.01877316699938092},{"env_id":"icltest/Guess-v0","kwargs":{},"label":"Guess","seeds":[10000,20000,30000],"returns":[[1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0],[1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0],[1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0]],"episode_lengths":[[1,2,3,1,2,2,2,1,2,3],[3,3,2,2,1,1,1,2,1,1],[3,3,3,1,1,2,1,3,2,2]],"mean_return":1.0,"normalized_score":{"value":100.0,"low":100.0,"high":100.0},"seed_scores":[100.0,100.0,100.0],"errors_by_context":null,"parse_failures":null,"wall_time_s":0.007377691000328923}],"complete":true,"aggregates":{"iqm":{"value":96.59095167726898,"low":91.68806607117614,"high":103.71719785776202},"mean":{"value":96.19572242782537,"low":91.68806607117614,"high":103.717197857762},"median":{"value":96.19572242782536,"low":91.68806607117614,"high":103.71719785776199},"optimality_gap":{"value":5.043343524761966,"low":0.0,"high":8.311933928823862}},"bootstrap":{"reps":2000,"seed":0,"confidence":0.95},"versions":{"python":"3.11.7","numpy":"2.4.6","gymnasium":"1.4.0","icl-envs":"0.1.0"},"hardware":{"platform":"Linux-6.18.44-fc-v1147-x86_64-with-glibc2.36","machine":"x86_64","processor":"x86_64","cpu_count":2},"wall_time_s":0.026315605000490905,"created":"2026-12-03T08:02:48+00:00"}');
CREATE INDEX ix_submissions_suite ON submissions (suite);
CREATE INDEX ix_submissions_agent_reference ON submissions (agent_reference);
CREATE UNIQUE INDEX ix_submissions_content_hash ON submissions (content_hash);
CREATE INDEX ix_entry_scores_submission_id ON entry_scores (submission_id);
COMMIT;
