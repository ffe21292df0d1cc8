// Loaded by `npm test` before every test file: tuned oneDNN kernel choices stay in each
// test process instead of the user's $RESNETS_HOME/tuning (tests of that cache set their own file).
process.env.RESNETS_TUNING_CACHE ??= 'off';
