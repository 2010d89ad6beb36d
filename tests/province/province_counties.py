"""The three small counties of the province tests and the steps they run (a module of its own:
`from conftest import …` would find another folder's conftest in a whole-suite run)."""

# 西区 and 东区 (攀枝花, neighbours) and 青羊区: among the fastest counties to synthesise and plan
COUNTIES = ["510105", "510402", "510403"]
STEPS = ["validate", "plan", "evaluate"]
