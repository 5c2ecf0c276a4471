//! The patterns of the code rules (network, processes, dynamic evaluation, credentials) and
//! how a pattern matches a line: at identifier boundaries on both sides.

use super::*;

/// Patterns of one rule; a pattern starting with an identifier character must not be
/// preceded by one (`eval(` matches `x = eval(` but not `medieval(`).
pub(super) struct Patterns {
    pub(super) rule: Rule,
    pub(super) what: &'static str,
    pub(super) patterns: &'static [&'static str],
}

pub(super) const NETWORK: Patterns = Patterns {
    rule: Rule::NetworkAccess,
    what: "reaches the network",
    patterns: &[
        "fetch(",
        "XMLHttpRequest",
        "require('http')",
        "require(\"http\")",
        "require('https')",
        "require(\"https\")",
        "require('net')",
        "require(\"net\")",
        "require('dgram')",
        "require(\"dgram\")",
        "from 'http'",
        "from \"http\"",
        "from 'https'",
        "from \"https\"",
        "node:http",
        "node:https",
        "node:net",
        "node:dgram",
        "net.connect(",
        "net.createConnection(",
        "WebSocket(",
        "axios",
        "http.request(",
        "https.request(",
        "http.get(",
        "https.get(",
        "urllib.request",
        "urllib3",
        "urlopen(",
        "requests.get(",
        "requests.post(",
        "requests.put(",
        "requests.request(",
        "httpx.",
        "http.client",
        "aiohttp",
        "socket.socket(",
        "socket.create_connection(",
        "TcpStream::connect",
        "UdpSocket::bind",
        "reqwest::",
        "ureq::",
        "curl ",
        "wget ",
        "Invoke-WebRequest",
        "/dev/tcp/",
        "Net::HTTP",
    ],
};

pub(super) const PROCESS: Patterns = Patterns {
    rule: Rule::ProcessSpawn,
    what: "spawns a process",
    patterns: &[
        "child_process",
        "execSync(",
        "spawnSync(",
        "execFileSync(",
        "execa(",
        "subprocess.run(",
        "subprocess.call(",
        "Popen(",
        "check_call(",
        "check_output(",
        "getoutput(",
        "getstatusoutput(",
        "os.system(",
        "os.popen(",
        "os.exec",
        "os.spawn",
        "pty.spawn(",
        "Command::new(",
        "std::process::Command",
        "Runtime.getRuntime().exec",
        "ProcessBuilder(",
        "shell_exec(",
        "proc_open(",
        "passthru(",
        "Start-Process",
        "| sh",
        "| bash",
        "bash -c",
        "sh -c",
    ],
};

pub(super) const EVAL: Patterns = Patterns {
    rule: Rule::DynamicEval,
    what: "evaluates code built at run time",
    patterns: &[
        "eval(",
        "new Function(",
        "vm.runInNewContext",
        "vm.runInThisContext",
        "vm.runInContext",
        "vm.Script(",
        "__import__(",
        "marshal.loads(",
        "exec(",
    ],
};

/// Decoders whose output, evaluated, is code nobody reviewed: `exec(base64.b64decode(...))`.
pub(super) const DECODERS: &[&str] = &[
    "b64decode",
    "a85decode",
    "b32decode",
    "atob(",
    "Buffer.from(",
    "fromCharCode",
    "bytes.fromhex",
    "codecs.decode",
    "zlib.decompress",
    "marshal.loads",
    "base64",
    "unhexlify",
];

/// Patterns that name a module or a shell command inside a string (`require('http')`,
/// `from 'node:net'`, `execSync("curl ... | sh")`), so they are matched on the line as
/// written, strings included.
pub(super) fn matches_in_strings(pattern: &str) -> bool {
    pattern.contains(['\'', '"'])
        || pattern.starts_with("node:")
        || matches!(
            pattern,
            "child_process"
                | "axios"
                | "/dev/tcp/"
                | "curl "
                | "wget "
                | "Invoke-WebRequest"
                | "| sh"
                | "| bash"
                | "bash -c"
                | "sh -c"
        )
}

/// Patterns that are the start of a family of names (`os.execv`, `os.spawnl`): no boundary
/// after them.
fn is_prefix_pattern(pattern: &str) -> bool {
    matches!(pattern, "os.exec" | "os.spawn" | "httpx.")
}

/// `__import__("json")`: importing a module named by a constant is an import, not evaluation.
pub(super) fn is_constant_import(line: &str) -> bool {
    let Some(at) = line.find("__import__(") else {
        return false;
    };
    let rest = line[at + "__import__(".len()..].trim_start();
    let Some(quote) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') else {
        return false;
    };
    let body = &rest[1..];
    let Some(end) = body.find(quote) else {
        return false;
    };
    body[..end]
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        && body[end + 1..].trim_start().starts_with(')')
}

/// Reads of the environment...
pub(super) const ENV_ACCESS: &[&str] = &[
    "process.env",
    "os.environ",
    "os.getenv(",
    "env::var",
    "env!(",
    "getenv(",
    "ENV[",
    "$ENV{",
    "System.getenv",
];
/// ...whose variable names suggest a secret.
pub(super) const SECRET_WORDS: &[&str] = &[
    "token",
    "secret",
    "password",
    "passwd",
    "api_key",
    "apikey",
    "access_key",
    "private_key",
    "credential",
    "auth",
];
/// The whole environment, or well-known credential files.
pub(super) const CREDENTIAL_SOURCES: &[&str] = &[
    "JSON.stringify(process.env",
    "Object.keys(process.env",
    "Object.entries(process.env",
    "dict(os.environ",
    "os.environ.copy(",
    "os.environ.items(",
    "env::vars()",
    "printenv",
    ".npmrc",
    ".pypirc",
    ".ssh/",
    "id_rsa",
    "id_ed25519",
    ".aws/credentials",
    ".git-credentials",
    ".docker/config.json",
    ".netrc",
    ".kube/config",
];

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Whether `line` contains `pattern` at an identifier boundary.
pub(super) fn contains_token(line: &str, pattern: &str) -> bool {
    let starts_ident = pattern.bytes().next().is_some_and(is_ident);
    // `urllib3` is not `urllib3_version_list`; `os.exec` is the start of `os.execv`.
    let ends_ident = pattern.bytes().last().is_some_and(is_ident) && !is_prefix_pattern(pattern);
    let bytes = line.as_bytes();
    let mut from = 0;
    while let Some(pos) = line[from..].find(pattern) {
        let at = from + pos;
        let end = at + pattern.len();
        let bounded_after = !ends_ident || bytes.get(end).is_none_or(|&b| !is_ident(b));
        if (!starts_ident || at == 0 || !is_ident(bytes[at - 1])) && bounded_after {
            // Python's `exec(`/`compile(` are builtins; `x.exec(` (RegExp, cursor) is not eval.
            if !(matches!(pattern, "exec(" | "compile(") && at > 0 && bytes[at - 1] == b'.') {
                return true;
            }
        }
        from = at + pattern.len().max(1);
        if from >= line.len() {
            break;
        }
    }
    false
}
