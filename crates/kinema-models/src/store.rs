//! The model store: where a model's pretrained weights come from — the embedded default, or
//! a file in the store folder ([`locate`]) — and how they get there (`pull`). `pull` downloads GluonCV's
//! `{repo}gluon/models/NAME-SHORTHASH.zip` (GluonCV's `model_store` layout), takes the `.params`
//! out of the zip and checks its SHA-1 against the registry's; or, for a model whose registry
//! entry has a URL (torchvision's), downloads that `.pth` and checks that its SHA-256 starts
//! with the hex digits in its file name (as torch.hub does). The file is written atomically
//! into the store folder, where `get_model(.., pretrained: true)` finds it.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha1::{Digest, Sha1};
use sha2::Sha256;

use crate::default::{DEFAULT_MODEL, DEFAULT_SOURCE, DEFAULT_WEIGHTS};
use crate::error::{ModelError, Result};
use crate::registry::{spec, ModelSpec};

/// GluonCV's default repository (its `MXNET_GLUON_REPO` default).
pub const GLUONCV_REPO: &str = "https://apache-mxnet.s3-accelerate.dualstack.amazonaws.com/";

/// Largest download accepted (the biggest GluonCV video model is ~400 MB).
const MAX_DOWNLOAD: u64 = 2 << 30;

/// The repository to download from: `KINEMA_MODEL_REPO`, else GluonCV's `MXNET_GLUON_REPO`,
/// else GluonCV's default; always ending in `/`.
pub fn repo_url() -> String {
    let mut r = std::env::var("KINEMA_MODEL_REPO")
        .or_else(|_| std::env::var("MXNET_GLUON_REPO"))
        .unwrap_or_else(|_| GLUONCV_REPO.to_string());
    if !r.ends_with('/') {
        r.push('/');
    }
    r
}

/// Hex SHA-1 of `bytes`.
pub fn sha1_hex(bytes: &[u8]) -> String {
    Sha1::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Default model store folder: `KINEMA_MODELS`, else `~/.cache/kinema/models`.
pub fn default_root() -> PathBuf {
    std::env::var_os("KINEMA_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/kinema/models")
        })
}

/// Where a model's pretrained weights are.
#[derive(Debug, Clone)]
pub enum Weights {
    /// Inside the binary (safetensors bytes), named by `source` in errors.
    Embedded {
        bytes: &'static [u8],
        source: &'static str,
    },
    /// A weight file (`.params`, `.pth` or `.safetensors`).
    File(PathBuf),
}

/// The pretrained weights of `spec` in store folder `root`: the embedded default's own bytes,
/// else the published file (`NAME-HASH.params`, `r3d_18-b3b3357e.pth`), else one named after
/// the model in that file's format (`NAME.params`, `NAME.pth`).
pub fn locate(spec: &ModelSpec, root: &Path) -> Result<Weights> {
    if spec.name == DEFAULT_MODEL {
        return Ok(Weights::Embedded {
            bytes: DEFAULT_WEIGHTS,
            source: DEFAULT_SOURCE,
        });
    }
    let own = match spec.url {
        Some(_) => format!("{}.pth", spec.name),
        None => format!("{}.params", spec.name),
    };
    let candidates: Vec<String> = spec.weight_file().into_iter().chain([own]).collect();
    match candidates.iter().map(|f| root.join(f)).find(|p| p.exists()) {
        Some(p) => Ok(Weights::File(p)),
        None => Err(ModelError::NoWeights {
            name: spec.name.to_string(),
            reason: format!(
                "no pretrained weights in {} (looked for {}); `kinema models pull {}` fetches the published file",
                root.display(),
                candidates.join(", "),
                spec.name
            ),
        }),
    }
}

fn download_error(url: &str, reason: impl Into<String>) -> ModelError {
    ModelError::Download {
        url: url.to_string(),
        reason: reason.into(),
    }
}

fn write_into(root: &Path, dest: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::create_dir_all(root).map_err(|source| ModelError::Io {
        path: root.to_path_buf(),
        source,
    })?;
    Ok(kinema_data::write_atomic(dest, bytes)?)
}

/// Downloads model `name`'s published weights into `root` (unless a file with the right hash
/// is there already); returns the file's path. `repo` is GluonCV's repository; a model with
/// its own URL (torchvision's) downloads from that.
pub fn pull(name: &str, root: &Path, repo: &str) -> Result<PathBuf> {
    let spec = spec(name)?;
    if let Some(url) = spec.url {
        return pull_url(url, root);
    }
    let (Some(sha1), Some(file)) = (spec.sha1, spec.weight_file()) else {
        return Err(ModelError::NoWeights {
            name: name.to_string(),
            reason: "no published weight file (name and SHA-1) is registered for it".into(),
        });
    };
    pull_file(&file, sha1, root, repo)
}

/// Downloads `{repo}gluon/models/{file stem}.zip`, extracts `file` and checks that its SHA-1
/// starts with `sha1` (the full hash, or the short one in the file name); writes it to
/// `root/file` atomically. A file already in `root` with the right hash is kept.
pub fn pull_file(file: &str, sha1: &str, root: &Path, repo: &str) -> Result<PathBuf> {
    let dest = root.join(file);
    if let Ok(b) = std::fs::read(&dest) {
        if sha1_hex(&b).starts_with(sha1) {
            return Ok(dest);
        }
        tracing::warn!(
            "{}: hash differs from the published one: downloading again",
            dest.display()
        );
    }
    let stem = file.strip_suffix(".params").unwrap_or(file);
    let url = format!("{repo}gluon/models/{stem}.zip");
    let zipped = download(&url)?;
    let params = unzip_one(&zipped, file).map_err(|e| download_error(&url, e))?;
    let got = sha1_hex(&params);
    if !got.starts_with(sha1) {
        return Err(ModelError::Checksum {
            url,
            file: file.to_string(),
            algorithm: "SHA-1",
            expected: sha1.to_string(),
            found: got,
        });
    }
    write_into(root, &dest, &params)?;
    Ok(dest)
}

/// Downloads `url` (a file named `STEM-HASH.EXT`, torch.hub's convention) to `root/STEM-HASH.EXT`
/// after checking that its SHA-256 starts with `HASH`. A file already in `root` with the right
/// hash is kept.
pub fn pull_url(url: &str, root: &Path) -> Result<PathBuf> {
    let file = url.rsplit('/').next().unwrap_or_default();
    let prefix = file
        .rsplit_once('-')
        .and_then(|(_, h)| h.split('.').next())
        .filter(|h| h.len() >= 6 && h.bytes().all(|c| c.is_ascii_hexdigit()))
        .ok_or_else(|| download_error(url, "the file name carries no SHA-256 prefix (NAME-HASH.EXT)"))?;
    let dest = root.join(file);
    if let Ok(b) = std::fs::read(&dest) {
        if sha256_hex(&b).starts_with(prefix) {
            return Ok(dest);
        }
        tracing::warn!(
            "{}: hash differs from the published one: downloading again",
            dest.display()
        );
    }
    let bytes = download(url)?;
    let got = sha256_hex(&bytes);
    if !got.starts_with(prefix) {
        return Err(ModelError::Checksum {
            url: url.to_string(),
            file: file.to_string(),
            algorithm: "SHA-256",
            expected: prefix.to_string(),
            found: got,
        });
    }
    write_into(root, &dest, &bytes)?;
    Ok(dest)
}

fn download(url: &str) -> Result<Vec<u8>> {
    let resp = ureq::get(url)
        .timeout(std::time::Duration::from_secs(600))
        .call()
        .map_err(|e| match e {
            ureq::Error::Status(code, _) => download_error(url, format!("the server answered HTTP {code}")),
            other => download_error(url, format!("cannot download: {other}")),
        })?;
    let mut bytes = Vec::new();
    resp.into_reader()
        .take(MAX_DOWNLOAD)
        .read_to_end(&mut bytes)
        .map_err(|e| download_error(url, format!("download interrupted: {e}")))?;
    Ok(bytes)
}

/// The entry named `file` of a zip archive (GluonCV's zips hold the one `.params`).
fn unzip_one(zipped: &[u8], file: &str) -> std::result::Result<Vec<u8>, String> {
    let mut z =
        zip::ZipArchive::new(std::io::Cursor::new(zipped)).map_err(|e| format!("not a zip archive: {e}"))?;
    let names: Vec<String> = z.file_names().map(String::from).collect();
    let name = names
        .iter()
        .find(|n| Path::new(n).file_name().is_some_and(|f| f == file))
        .ok_or_else(|| format!("the archive holds no {file} (it has {})", names.join(", ")))?
        .clone();
    let mut entry = z.by_name(&name).map_err(|e| format!("{name}: {e}"))?;
    let mut out = Vec::new();
    entry
        .read_to_end(&mut out)
        .map_err(|e| format!("{name}: damaged in the archive: {e}"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    /// A one-file zip of `body` named `name`.
    fn zip_of(name: &str, body: &[u8]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        w.start_file(name, zip::write::FileOptions::default()).unwrap();
        w.write_all(body).unwrap();
        w.finish().unwrap().into_inner()
    }

    /// Serves `routes` (path -> body; others 404) on 127.0.0.1 for `n` requests.
    fn serve(routes: Vec<(String, Vec<u8>)>, n: usize) -> String {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            for s in l.incoming().take(n) {
                let mut s = s.unwrap();
                let mut buf = [0u8; 4096];
                let k = s.read(&mut buf).unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..k]).to_string();
                let path = req.split_whitespace().nth(1).unwrap_or("").to_string();
                match routes.iter().find(|(p, _)| *p == path) {
                    Some((_, body)) => {
                        let _ = write!(
                            s,
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = s.write_all(body);
                    }
                    None => {
                        let _ = write!(
                            s,
                            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        );
                    }
                }
            }
        });
        format!("http://{addr}/")
    }

    #[test]
    fn pulls_checks_the_hash_and_names_the_url() {
        let body = b"not really MXNet weights, but bytes with a hash".to_vec();
        let h = sha1_hex(&body);
        let file = format!("toy_model-{}.params", &h[..8]);
        let zip = zip_of(&file, &body);
        let mut bad = body.clone();
        bad[0] ^= 1;
        let file_bad = format!("toy_bad-{}.params", &h[..8]);
        let routes = vec![
            (format!("/gluon/models/toy_model-{}.zip", &h[..8]), zip),
            (
                format!("/gluon/models/toy_bad-{}.zip", &h[..8]),
                zip_of(&file_bad, &bad),
            ),
            (
                "/gluon/models/toy_junk.zip".to_string(),
                b"<html>no</html>".to_vec(),
            ),
        ];
        let repo = serve(routes, 5);
        let d = tempfile::tempdir().unwrap();
        let p = pull_file(&file, &h, d.path(), &repo).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), body);
        // Already there with the right hash: no request needed (the server would 404 a
        // second fetch of nothing else).
        assert_eq!(pull_file(&file, &h[..8], d.path(), &repo).unwrap(), p);
        let e = pull_file(&file_bad, &h, d.path(), &repo).unwrap_err().to_string();
        assert!(e.contains("SHA-1") && e.contains("toy_bad"), "{e}");
        assert!(!d.path().join(&file_bad).exists());
        let e = pull_file("toy_junk.params", &h, d.path(), &repo)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a zip") && e.contains("toy_junk.zip"), "{e}");
        let e = pull_file("toy_missing-00000000.params", "0", d.path(), &repo)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("HTTP 404") && e.contains("toy_missing-00000000.zip"),
            "{e}"
        );
    }

    #[test]
    fn pulls_a_url_checking_the_sha256_prefix_in_its_name() {
        let body = b"torch.save bytes, or something with a hash".to_vec();
        let h = sha256_hex(&body);
        let good = format!("/models/toy-{}.pth", &h[..8]);
        let bad = format!("/models/bad-{}.pth", &h[..8]);
        let mut flipped = body.clone();
        flipped[0] ^= 1;
        let repo = serve(vec![(good.clone(), body.clone()), (bad.clone(), flipped)], 2);
        let d = tempfile::tempdir().unwrap();
        let p = pull_url(&format!("{repo}{}", &good[1..]), d.path()).unwrap();
        assert_eq!(p.file_name().unwrap().to_str().unwrap(), &good[8..]);
        assert_eq!(std::fs::read(&p).unwrap(), body);
        // Already there with the right hash: no second request.
        assert_eq!(pull_url(&format!("{repo}{}", &good[1..]), d.path()).unwrap(), p);
        let e = pull_url(&format!("{repo}{}", &bad[1..]), d.path())
            .unwrap_err()
            .to_string();
        assert!(e.contains("SHA-256") && e.contains("bad-"), "{e}");
        assert!(!d.path().join(&bad[8..]).exists());
        let e = pull_url(&format!("{repo}models/nohash.pth"), d.path())
            .unwrap_err()
            .to_string();
        assert!(e.contains("no SHA-256 prefix"), "{e}");
        // torchvision's entries pull from their own URL.
        let spec = spec("r3d_18_kinetics400").unwrap();
        assert_eq!(
            spec.url,
            Some("https://download.pytorch.org/models/r3d_18-b3b3357e.pth")
        );
        assert_eq!(spec.weight_file().as_deref(), Some("r3d_18-b3b3357e.pth"));
    }

    #[test]
    fn no_server_is_an_error_naming_the_url() {
        // A port nothing listens on (bound, then released).
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let repo = format!("http://127.0.0.1:{port}/");
        let d = tempfile::tempdir().unwrap();
        let e = pull("i3d_resnet50_v1_kinetics400", d.path(), &repo)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&format!(
                "{repo}gluon/models/i3d_resnet50_v1_kinetics400-568a722e.zip"
            )),
            "{e}"
        );
        let e = pull("i3d_resnet50_v1_custom", d.path(), &repo)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no published weight file"), "{e}");
    }
}
