//! The Lua scripts: each write and its pub/sub message in one atomic step, and the throttle's GCRA on the
//! Redis server's clock, so every instance counts against the same time.

use redis::Script;

/// Revokes a session: `KEYS[1]` = `<prefix>revoked:<sid>`, `ARGV` = keep-until (epoch seconds), channel,
/// session id. The expiry only ever moves later. Publishes `s <keep-until> <sid>`; returns the keep-until.
const REVOKE: &str = r"
local keep = tonumber(ARGV[1])
if redis.call('SET', KEYS[1], '1', 'NX', 'EXAT', ARGV[1]) == false then
  redis.call('EXPIREAT', KEYS[1], ARGV[1], 'GT')
  local current = redis.call('EXPIRETIME', KEYS[1])
  if current > keep then keep = current end
end
local keep_text = string.format('%d', keep)
redis.call('PUBLISH', ARGV[2], 's ' .. keep_text .. ' ' .. ARGV[3])
return keep
";

/// Log-out-everywhere: `KEYS[1]` = `<prefix>user-cutoff:<user>`, `ARGV` = cut-off, keep-until (epoch
/// seconds), channel, user. Neither the cut-off nor the expiry ever moves back. Publishes
/// `u <cut-off> <keep-until> <user>`; returns `{cut-off, keep-until}`.
const REVOKE_USER: &str = r"
local cutoff = tonumber(ARGV[1])
local keep = tonumber(ARGV[2])
local old = redis.call('GET', KEYS[1])
if old then
  local old_cutoff = tonumber(old)
  if old_cutoff and old_cutoff > cutoff then cutoff = old_cutoff end
  local old_keep = redis.call('EXPIRETIME', KEYS[1])
  if old_keep > keep then keep = old_keep end
end
local cutoff_text = string.format('%d', cutoff)
local keep_text = string.format('%d', keep)
redis.call('SET', KEYS[1], cutoff_text, 'EXAT', keep_text)
redis.call('PUBLISH', ARGV[3], 'u ' .. cutoff_text .. ' ' .. keep_text .. ' ' .. ARGV[4])
return {cutoff, keep}
";

/// The GCRA state of one throttle key, shared by both throttle scripts: `ARGV[1]` = the interval at which
/// an allowance comes back, `ARGV[2]` = the burst (failures let through in a row), both in microseconds /
/// a count. The key holds the theoretical arrival time (TAT) in microseconds on the server's clock.
const GCRA_PRELUDE: &str = r"
local interval = tonumber(ARGV[1])
local tolerance = interval * (tonumber(ARGV[2]) - 1)
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or 0) or 0
if tat < now then tat = now end
";

/// How long the key is blocked, in microseconds (0: not blocked). Counts nothing.
const BLOCKED_FOR: &str = r"
local wait = tat - now - tolerance
if wait > 0 then return wait end
return 0
";

/// Counts one failure unless the key is blocked (a failure someone else counted first); answers how long
/// the key is now blocked, in microseconds (0: not blocked). The key expires when every allowance is back.
const RECORD_FAILURE: &str = r"
local wait = tat - now - tolerance
if wait > 0 then return wait end
local new_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000))
wait = new_tat - now - tolerance
if wait > 0 then return wait end
return 0
";

/// The scripts, hashed once (they are run with `EVALSHA`, loaded on the first `NOSCRIPT`).
#[derive(Debug)]
pub(crate) struct Scripts {
    pub(crate) revoke: Script,
    pub(crate) revoke_user: Script,
    pub(crate) blocked_for: Script,
    pub(crate) record_failure: Script,
}

impl Scripts {
    pub(crate) fn new() -> Self {
        Self {
            revoke: Script::new(REVOKE),
            revoke_user: Script::new(REVOKE_USER),
            blocked_for: Script::new(&format!("{GCRA_PRELUDE}{BLOCKED_FOR}")),
            record_failure: Script::new(&format!("{GCRA_PRELUDE}{RECORD_FAILURE}")),
        }
    }
}
