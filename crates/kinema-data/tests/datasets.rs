//! The standard datasets' published layouts, on fixture trees the tests make.

use std::path::Path;

use kinema_data::datasets::{hmdb51, kinetics_csv, kinetics_folders, sthsthv2, ucf101};
use kinema_data::PathRules;

fn touch(root: &Path, rel: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, b"x").unwrap();
}

fn write(root: &Path, rel: &str, text: &str) -> std::path::PathBuf {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    p
}

fn names(list: &kinema_data::SampleList, root: &Path) -> Vec<(String, usize)> {
    list.samples
        .iter()
        .map(|s| (s.path.strip_prefix(root).unwrap().display().to_string(), s.label))
        .collect()
}

#[test]
fn ucf101_splits() {
    let d = tempfile::tempdir().unwrap();
    let (root, lists) = (d.path().join("UCF-101"), d.path().join("ucfTrainTestlist"));
    for v in [
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi",
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi",
        "YoYo/v_YoYo_g08_c02.avi",
        "YoYo/v_YoYo_g01_c01.avi",
    ] {
        touch(&root, v);
    }
    write(&lists, "classInd.txt", "1 ApplyEyeMakeup\n2 YoYo\n");
    write(
        &lists,
        "trainlist01.txt",
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\nYoYo/v_YoYo_g08_c02.avi 2\n",
    );
    write(
        &lists,
        "testlist01.txt",
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi\r\nYoYo/v_YoYo_g01_c01.avi\r\n",
    );
    let rules = PathRules::new(&root);
    let train = ucf101(&lists, 1, true, &rules).unwrap();
    assert_eq!(train.classes, vec!["ApplyEyeMakeup", "YoYo"]);
    assert_eq!(
        names(&train, &root),
        vec![
            ("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi".into(), 0),
            ("YoYo/v_YoYo_g08_c02.avi".into(), 1)
        ]
    );
    let test = ucf101(&lists, 1, false, &rules).unwrap();
    assert_eq!(test.samples[1].label, 1);

    let err = |text: &str, file: &str| {
        write(&lists, file, text);
        let e = ucf101(&lists, 1, true, &rules).unwrap_err().to_string();
        write(&lists, "classInd.txt", "1 ApplyEyeMakeup\n2 YoYo\n");
        write(
            &lists,
            "trainlist01.txt",
            "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\n",
        );
        e
    };
    assert!(err("1 ApplyEyeMakeup\n3 YoYo\n", "classInd.txt").contains("classInd.txt:2: class index \"3\""));
    assert!(err("Nope/v_x.avi 1\n", "trainlist01.txt").contains("trainlist01.txt:1: class folder \"Nope\""));
    assert!(err("YoYo/v_YoYo_g08_c02.avi 1\n", "trainlist01.txt").contains("trainlist01.txt:1: expected"));
    assert!(
        err("YoYo/v_YoYo_g09_c02.avi 2\n", "trainlist01.txt").contains("v_YoYo_g09_c02.avi: video not found")
    );
    assert!(ucf101(&lists, 4, true, &rules)
        .unwrap_err()
        .to_string()
        .contains("split 4"));
    assert!(ucf101(&lists, 2, true, &rules)
        .unwrap_err()
        .to_string()
        .contains("trainlist02.txt"));
}

#[test]
fn hmdb51_splits() {
    let d = tempfile::tempdir().unwrap();
    let (root, lists) = (d.path().join("hmdb51"), d.path().join("splits"));
    for v in [
        "brush_hair/a.avi",
        "brush_hair/b.avi",
        "cartwheel/c.avi",
        "cartwheel/d.avi",
    ] {
        touch(&root, v);
    }
    write(&lists, "cartwheel_test_split1.txt", "c.avi 2 \nd.avi 1 \n");
    write(&lists, "brush_hair_test_split1.txt", "a.avi 1 \nb.avi 0 \n");
    let rules = PathRules::new(&root);
    let train = hmdb51(&lists, 1, true, &rules).unwrap();
    assert_eq!(train.classes, vec!["brush_hair", "cartwheel"]);
    assert_eq!(
        names(&train, &root),
        vec![("brush_hair/a.avi".into(), 0), ("cartwheel/d.avi".into(), 1)]
    );
    assert_eq!(
        names(&hmdb51(&lists, 1, false, &rules).unwrap(), &root),
        vec![("cartwheel/c.avi".into(), 1)]
    );
    write(&lists, "cartwheel_test_split1.txt", "c.avi 3\n");
    let e = hmdb51(&lists, 1, true, &rules).unwrap_err().to_string();
    assert!(e.contains("cartwheel_test_split1.txt:1: split tag \"3\""), "{e}");
    assert!(hmdb51(&lists, 2, true, &rules)
        .unwrap_err()
        .to_string()
        .contains("_test_split2.txt"));
}

#[test]
fn kinetics_folders_and_csv() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("train");
    touch(&root, "abseiling/aaa_000010_000020.mp4");
    touch(&root, "zumba/zzz_000001_000011.mp4");
    touch(&root, "zumba/yyy_000000_000010.mkv");
    touch(&root, "zumba/notes.txt");
    let f = kinetics_folders(&root).unwrap();
    assert_eq!(f.classes, vec!["abseiling", "zumba"]);
    assert_eq!(
        names(&f, &root),
        vec![
            ("abseiling/aaa_000010_000020.mp4".into(), 0),
            ("zumba/yyy_000000_000010.mkv".into(), 1),
            ("zumba/zzz_000001_000011.mp4".into(), 1)
        ]
    );

    let csv = write(d.path(), "train.csv", "label,youtube_id,time_start,time_end,split,is_cc\nzumba,zzz,1,11,train,0\nabseiling,aaa,10.0,20.0,train,0\n\"passing American football (in game)\",ppp,0,10,train,0\n");
    touch(&root, "passing American football (in game)/ppp_000000_000010.mp4");
    let rules = PathRules::new(&root);
    let k = kinetics_csv(&csv, None, &rules).unwrap();
    assert_eq!(
        k.classes,
        vec!["abseiling", "passing American football (in game)", "zumba"]
    );
    assert_eq!(
        k.samples.iter().map(|s| s.label).collect::<Vec<_>>(),
        vec![2, 0, 1]
    );
    let classes = k.classes.clone();
    let val = write(
        d.path(),
        "val.csv",
        "label,youtube_id,time_start,time_end,split\nzumba,zzz,1,11,val\n",
    );
    assert_eq!(
        kinetics_csv(&val, Some(&classes), &rules).unwrap().samples[0].label,
        2
    );
    let bad = write(
        d.path(),
        "bad.csv",
        "label,youtube_id,time_start,time_end,split\nzumba,zzz,x,11,val\n",
    );
    assert!(kinetics_csv(&bad, None, &rules)
        .unwrap_err()
        .to_string()
        .contains("bad.csv:2: time \"x\""));
    let unknown = write(d.path(), "u.csv", "surfing,sss,0,10,val\n");
    assert!(kinetics_csv(&unknown, Some(&classes), &rules)
        .unwrap_err()
        .to_string()
        .contains("u.csv:1: label \"surfing\""));
    let missing = write(d.path(), "m.csv", "zumba,qqq,0,10,val\n");
    assert!(kinetics_csv(&missing, None, &rules)
        .unwrap_err()
        .to_string()
        .contains("zumba/qqq_000000_000010.mp4: video not found"));
    assert!(kinetics_folders(&d.path().join("nothing")).is_err());
}

#[test]
fn sthsthv2_json() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("videos");
    touch(&root, "78687.webm");
    std::fs::create_dir_all(root.join("42326")).unwrap(); // a frame folder
    let labels = write(
        d.path(),
        "labels.json",
        r#"{"Approaching something with your camera": "0", "Holding something next to something": "1"}"#,
    );
    let train = write(
        d.path(),
        "train.json",
        r#"[{"id":"78687","label":"holding potato next to vicks vaporub bottle","template":"Holding [something] next to [something]","placeholders":["potato","vicks vaporub bottle"]},
            {"id":"42326","label":"approaching a bottle with your camera","template":"Approaching [something] with your camera","placeholders":["a bottle"]}]"#,
    );
    let rules = PathRules::new(&root);
    let l = sthsthv2(&labels, &train, &rules).unwrap();
    assert_eq!(l.classes[1], "Holding something next to something");
    assert_eq!(
        names(&l, &root),
        vec![("78687.webm".into(), 1), ("42326".into(), 0)]
    );
    let bad = write(
        d.path(),
        "bad.json",
        r#"[{"id":"1","template":"Dancing [something]"}]"#,
    );
    assert!(sthsthv2(&labels, &bad, &rules)
        .unwrap_err()
        .to_string()
        .contains("entry 1 (id 1): template \"Dancing something\""));
    let broken = write(d.path(), "broken.json", "[{\"id\": ");
    assert!(sthsthv2(&labels, &broken, &rules)
        .unwrap_err()
        .to_string()
        .contains("broken.json:1: bad JSON"));
}

/// UCF101's layout on the format it is distributed in: XviD (MPEG-4 part 2) AVI clips with
/// B-frames, made by `synth` with `WriterFormat::XvidAvi`. Every clip loads through
/// `VideoClsCustom` in train and test modes with as many frames as the ffmpeg CLI decodes.
#[test]
fn ucf101_layout_on_xvid_avi_clips_with_b_frames() {
    use kinema_data::synth::{synth, SynthOptions};
    use kinema_data::{DatasetOptions, VideoClsCustom};
    let d = tempfile::tempdir().unwrap();
    let syn = d.path().join("syn");
    synth(
        &SynthOptions {
            out: syn.clone(),
            classes: 2,
            videos_per_class: 2,
            val_per_class: 1,
            seed: 9,
            min_size: 64,
            max_size: 80,
            min_frames: 30,
            max_frames: 40,
            format: kinema_av::WriterFormat::XvidAvi,
            ..Default::default()
        },
        &|_, _| {},
    )
    .unwrap();
    let (root, lists) = (d.path().join("UCF-101"), d.path().join("ucfTrainTestlist"));
    let mut train_lines = String::new();
    let mut test_lines = String::new();
    for (c, (class, src)) in [("MoveLeft", "move_left"), ("MoveRight", "move_right")]
        .iter()
        .enumerate()
    {
        for (g, split) in [(1, "train"), (2, "train"), (8, "val")] {
            let k = if g == 8 { 1 } else { g };
            let from = syn.join(split).join(src).join(format!("{k:05}.avi"));
            let rel = format!("{class}/v_{class}_g{g:02}_c01.avi");
            std::fs::create_dir_all(root.join(class)).unwrap();
            std::fs::copy(&from, root.join(&rel)).unwrap();
            if g == 8 {
                test_lines.push_str(&format!("{rel}\n"));
            } else {
                train_lines.push_str(&format!("{rel} {}\n", c + 1));
            }
        }
    }
    write(&lists, "classInd.txt", "1 MoveLeft\n2 MoveRight\n");
    write(&lists, "trainlist01.txt", &train_lines);
    write(&lists, "testlist01.txt", &test_lines);
    let rules = PathRules::new(&root);
    for (train, test_mode) in [(true, false), (false, true)] {
        let list = ucf101(&lists, 1, train, &rules).unwrap();
        let n = list.samples.len();
        assert_eq!(n, if train { 4 } else { 2 });
        let o = DatasetOptions {
            train,
            test_mode,
            ..Default::default()
        };
        let ds = VideoClsCustom::from_list(list, o).unwrap();
        for i in 0..n {
            let path = ds.path(i).unwrap().clone();
            let out = std::process::Command::new("ffprobe")
                .args([
                    "-v",
                    "error",
                    "-count_frames",
                    "-select_streams",
                    "v:0",
                    "-show_entries",
                ])
                .args([
                    "stream=nb_read_frames,codec_tag_string,has_b_frames",
                    "-of",
                    "default=nw=1",
                ])
                .arg(&path)
                .output()
                .unwrap();
            let probe = String::from_utf8_lossy(&out.stdout).to_string();
            let field = |k: &str| {
                probe
                    .lines()
                    .find_map(|l| l.strip_prefix(&format!("{k}=")))
                    .unwrap_or_default()
                    .to_string()
            };
            assert_eq!(
                (field("codec_tag_string"), field("has_b_frames")),
                ("XVID".into(), "1".into()),
                "{probe}"
            );
            let frames: usize = field("nb_read_frames").parse().unwrap();
            let reader = ds.open(i).unwrap();
            assert_eq!(reader.len(), frames, "{}", path.display());
            let clip = ds.get(i, 0).unwrap();
            assert_eq!(clip.plan.num_frames, frames);
            assert!(clip.plan.frame_indices.iter().all(|&f| f < frames));
            assert!(clip.data.iter().all(|v| v.is_finite()));
        }
    }
}
