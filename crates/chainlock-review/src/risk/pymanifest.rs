//! What Python manifests declare for the installer (PEP 621 `[project]`, Poetry, `setup.cfg`,
//! requirements files behind `dynamic`), for the artifact comparison's metadata checks.

use super::manifest::{
    requirement_name, requirements_deps, setup_cfg_deps, strip_bom, toml_elements, toml_items,
    toml_key, unquote, TomlItem,
};
use super::*;

/// What a Python manifest declares for the installer: the distributions its metadata may
/// require and the entry points it may install.
#[derive(Debug, Default, Clone)]
pub(crate) struct PythonDeclared {
    /// PEP 503 names of runtime and optional (extra) dependencies.
    pub(crate) requires: BTreeSet<String>,
    /// Entry point names: console and GUI scripts, plugins.
    pub(crate) entry_points: BTreeSet<String>,
    /// Whether the dependencies are `dynamic` (filled in by the build backend from files).
    pub(crate) dynamic_requires: bool,
    /// The version file a VCS plugin writes (hatch-vcs `version-file`, setuptools-scm
    /// `version_file` or `write_to`), relative to the manifest's directory.
    pub(crate) version_file: Option<String>,
}

/// The runtime and optional dependencies, entry points and version file a `pyproject.toml`
/// declares (PEP 621 `[project]`, Poetry, hatch-vcs, setuptools-scm). Development-only lists
/// (`[dependency-groups]`, `build-system.requires`) are not what an installer fetches.
pub(crate) fn pyproject_declared(text: &str) -> Result<PythonDeclared, String> {
    let mut out = PythonDeclared::default();
    let mut table: Vec<String> = Vec::new();
    for item in toml_items(strip_bom(text)).map_err(|e| e.why)? {
        let (key, value) = match item {
            TomlItem::Table { path, .. } => {
                table = path;
                continue;
            }
            TomlItem::Pair { key, value, .. } => (key, value),
        };
        let full: Vec<&str> = table.iter().chain(&key).map(String::as_str).collect();
        let elements = || -> Vec<String> {
            toml_elements(&value)
                .into_iter()
                .filter_map(|(_, e)| unquote(&e))
                .collect()
        };
        let joined = || {
            let text: Vec<&str> = value.iter().map(|(_, t)| t.trim()).collect();
            let text = text.join(" ");
            unquote(&text).unwrap_or(text)
        };
        match full.as_slice() {
            ["project", "dependencies"] | ["project", "optional-dependencies", _] => {
                out.requires
                    .extend(elements().iter().map(|r| requirement_name(r)));
            }
            ["project", "optional-dependencies"] => {
                // `optional-dependencies = { extra = ["x"] }`: every quoted element.
                for (_, e) in toml_elements(&value) {
                    if let Some((_, rest)) = toml_key(&e) {
                        let rest = rest
                            .trim_start_matches(['=', ' ', '['])
                            .trim_end_matches(']');
                        out.requires.extend(
                            rest.split(',')
                                .filter_map(|r| unquote(r.trim()))
                                .map(|r| requirement_name(&r)),
                        );
                    }
                }
            }
            ["project", "dynamic"] => {
                out.dynamic_requires |= elements()
                    .iter()
                    .any(|e| e == "dependencies" || e == "optional-dependencies");
            }
            ["project", "scripts" | "gui-scripts", name]
            | ["project", "entry-points", _, name]
            | ["tool", "poetry", "scripts", name] => {
                out.entry_points.insert((*name).to_owned());
            }
            ["tool", "poetry", "dependencies", name] if *name != "python" => {
                out.requires.insert(requirement_name(name));
            }
            // `[tool.poetry.extras] name = ["dist", ...]`: the extra's name is not a dist.
            ["tool", "poetry", "extras", _] => {
                out.requires
                    .extend(elements().iter().map(|r| requirement_name(r)));
            }
            ["tool", "hatch", "build", "hooks", "vcs", "version-file"]
            | ["tool", "setuptools_scm", "version_file" | "write_to"] => {
                out.version_file = Some(joined());
            }
            _ => {}
        }
    }
    Ok(out)
}

/// What a `setup.cfg` declares: `[options] install_requires`, `[options.extras_require]`
/// and the names under `[options.entry_points]`.
pub(crate) fn setup_cfg_declared(text: &str) -> Result<PythonDeclared, String> {
    let mut out = PythonDeclared::default();
    for dep in setup_cfg_deps(strip_bom(text)).map_err(|e| e.why)? {
        if dep.key.starts_with("options.install_requires:")
            || dep.key.starts_with("options.extras_require.")
        {
            out.requires.insert(requirement_name(&dep.spec));
        }
    }
    let mut section = String::new();
    for line in split_lines(text) {
        let t = line.trim();
        if t.starts_with('[') {
            section = t.trim_matches(|c| c == '[' || c == ']').trim().to_owned();
            continue;
        }
        // `console_scripts =` opens a group; indented `name = module:attr` lines follow.
        if section == "options.entry_points" && line.starts_with([' ', '\t']) {
            if let Some((name, target)) = t.split_once('=') {
                if !target.trim().is_empty() {
                    out.entry_points.insert(name.trim().to_owned());
                }
            }
        }
    }
    Ok(out)
}

/// The requirement names of a requirements file, for dependencies a pyproject declares
/// `dynamic` (read from files by the backend).
pub(crate) fn requirements_names(text: &str) -> BTreeSet<String> {
    requirements_deps(text)
        .into_iter()
        .map(|d| requirement_name(&d.spec))
        .filter(|n| !n.is_empty())
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn pyproject_lists_are_read_not_searched() {
        let d = pyproject_declared(
            "[project]\nname = \"w\"\nreadme = \"README.md\"\ndependencies = [\n  \"MarkupSafe>=2.1.1\",\n]\n\n[project.optional-dependencies]\nwatchdog = [\"watchdog>=2.3\"]\n\n[project.scripts]\nw = \"w:main\"\n\n[dependency-groups]\ndev = [\"pytest\"]\n\n[tool.poetry.extras]\nfast = [\"ujson\"]\n",
        )
        .unwrap();
        let requires: Vec<&str> = d.requires.iter().map(String::as_str).collect();
        // `readme` and the dev group's `pytest` are in the file but declare nothing to install.
        assert_eq!(requires, vec!["markupsafe", "ujson", "watchdog"]);
        assert_eq!(d.entry_points.iter().collect::<Vec<_>>(), vec!["w"]);
        let cfg = setup_cfg_declared(
            "[options]\ninstall_requires =\n    attrs>=22\n\n[options.extras_require]\ntest = pytest\n\n[options.entry_points]\nconsole_scripts =\n    tiny = tinypkg:main\n",
        )
        .unwrap();
        assert_eq!(
            cfg.requires.iter().map(String::as_str).collect::<Vec<_>>(),
            vec!["attrs", "pytest"]
        );
        assert_eq!(cfg.entry_points.iter().collect::<Vec<_>>(), vec!["tiny"]);
    }
}
