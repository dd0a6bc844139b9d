DROP TABLE rescreen_runs;
