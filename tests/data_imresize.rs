//! `imresize` against an independent float64 implementation of MATLAB's algorithm
//! (`tests/fixtures/imresize/make_fixtures.py`, which wrote the `.bin` cases beside it).

use ddr_engine::data::imresize::{output_len, resize_planes};
use std::path::Path;

struct Case {
    name: String,
    c: usize,
    h: usize,
    w: usize,
    ho: usize,
    wo: usize,
    scale: f64,
    input: Vec<f64>,
    expected: Vec<f64>,
}

fn read_case(path: &Path) -> Case {
    let b = std::fs::read(path).unwrap();
    assert_eq!(&b[..4], b"IMRZ", "{}", path.display());
    let u = |i: usize| u32::from_le_bytes(b[4 + 4 * i..8 + 4 * i].try_into().unwrap()) as usize;
    assert_eq!(u(0), 1, "fixture version");
    let (c, h, w, ho, wo) = (u(1), u(2), u(3), u(4), u(5));
    let f = |at: usize| f64::from_le_bytes(b[at..at + 8].try_into().unwrap());
    let scale = f(28);
    let n_in = c * h * w;
    let input: Vec<f64> = (0..n_in).map(|i| f(36 + 8 * i)).collect();
    let expected: Vec<f64> = (0..c * ho * wo).map(|i| f(36 + 8 * (n_in + i))).collect();
    assert_eq!(b.len(), 36 + 8 * (n_in + c * ho * wo));
    Case {
        name: path.file_stem().unwrap().to_string_lossy().into_owned(),
        c,
        h,
        w,
        ho,
        wo,
        scale,
        input,
        expected,
    }
}

fn cases() -> Vec<Case> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/imresize");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "bin"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 10, "fixtures missing from {}", dir.display());
    paths.iter().map(|p| read_case(p)).collect()
}

fn max_err<T: Copy + Into<f64>>(got: &[T], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len());
    got.iter().zip(want).map(|(&g, &w)| (g.into() - w).abs()).fold(0.0, f64::max)
}

#[test]
fn f32_matches_the_float64_oracle_within_1e_5() {
    for case in cases() {
        let input: Vec<f32> = case.input.iter().map(|&v| v as f32).collect();
        // The oracle's inputs were rounded to f32, so both sides resize the same numbers.
        assert!(input.iter().zip(&case.input).all(|(&a, &b)| a as f64 == b));
        let (out, ho, wo) = resize_planes(&input, case.c, case.h, case.w, case.scale).unwrap();
        assert_eq!((ho, wo), (case.ho, case.wo), "{}: output size", case.name);
        let err = max_err(&out, &case.expected);
        println!("{:<18} f32 max abs error {err:.2e}", case.name);
        assert!(err <= 1e-5, "{}: max abs error {err:e}", case.name);
    }
}

#[test]
fn f64_matches_the_float64_oracle_to_rounding() {
    // In f64 the two implementations differ only in summation order: any real difference in
    // the algorithm (a tap, a weight, the padding) would show far above 1e-12.
    for case in cases() {
        let (out, ..) = resize_planes(&case.input, case.c, case.h, case.w, case.scale).unwrap();
        let err = max_err(&out, &case.expected);
        assert!(err <= 1e-12, "{}: max abs error {err:e}", case.name);
    }
}

#[test]
fn output_sizes_follow_matlab_ceil_rule() {
    for case in cases() {
        assert_eq!(output_len(case.h, case.scale), case.ho, "{}", case.name);
        assert_eq!(output_len(case.w, case.scale), case.wo, "{}", case.name);
    }
}
