//! A deterministic synthetic news corpus for benchmarks, shaped like Korean outlets' feeds.
//!
//! Shared by `examples/bench_gen.rs` (writes the files nginx serves to `sosik poll`) and
//! `benches/stages.rs` (builds single feeds in memory), so both measure the same inputs and no
//! corpus is ever committed. All text is our own, assembled from the word lists below.
//!
//! The shape (issue 6): RSS 2.0; 15% of feeds in EUC-KR (prolog `encoding="euc-kr"`, Korean
//! text only), the rest UTF-8 with Korean and English; RFC 822 dates at +0900; one category
//! (sometimes two) from a fixed set where both spellings `IT·과학` and `ITㆍ과학` occur;
//! ~600-byte HTML descriptions with a relative link and sometimes an image; a guid on half
//! the items. Feeds form a ring: feed `i` carries its own `items - shared` stories plus the
//! first `shared` stories of feed `i - 1`, with the link spelled differently (tracking
//! parameters, upper-case host, fragment) so only canonicalization makes them one story.
//! So 2,000 feeds of 50 items with 30% shared hold 100,000 items and 70,000 distinct stories.
//!
//! Determinism: every story's text depends only on the seed and its (owner feed, number), so a
//! feed's bytes do not depend on how many other feeds are generated, and a seed always gives
//! the same corpus with the `fastrand` version locked in Cargo.lock.

// Each target that includes this file uses part of it.
#![allow(dead_code)]

use std::fmt::Write as _;

use chrono::{DateTime, Duration, FixedOffset, TimeZone};

/// The newest story's date when none is given: in the past, so no date is "in the future".
pub const DEFAULT_BASE: &str = "2026-11-01T09:00:00+09:00";

/// What to generate.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Number of feeds.
    pub feeds: usize,
    /// Items per feed.
    pub items: usize,
    /// Percent of each feed's items that are its neighbour's stories.
    pub shared_percent: usize,
    /// Percent of feeds encoded in EUC-KR.
    pub euc_kr_percent: usize,
    /// Percent of each feed's own stories that rewrite another outlet's story (issue 20):
    /// the same event under the feed's own link, with a `[종합]` tag and a wire byline, for
    /// story merging to find.
    pub rewrite_percent: usize,
    /// Seed of every random choice.
    pub seed: u64,
    /// Date of the newest story; the others spread over the 30 days before it.
    pub base: DateTime<FixedOffset>,
}

/// One generated feed document.
#[derive(Debug, Clone)]
pub struct Feed {
    /// `f0000`, `f0001`…: file stem and source id.
    pub name: String,
    /// Whether the document is EUC-KR (else UTF-8).
    pub euc_kr: bool,
    /// The document as served.
    pub bytes: Vec<u8>,
    /// Items in the document.
    pub items: usize,
    /// Items whose category is either spelling of IT·과학 (counting each item once).
    pub it_items: usize,
}

impl Spec {
    /// The issue's corpus shape with `feeds` feeds of `items` items.
    pub fn new(feeds: usize, items: usize, seed: u64) -> Spec {
        Spec {
            feeds,
            items,
            shared_percent: 30,
            euc_kr_percent: 15,
            rewrite_percent: 10,
            seed,
            base: DateTime::parse_from_rfc3339(DEFAULT_BASE).expect("a valid constant"),
        }
    }

    /// Items of each feed that come from its neighbour (none with a single feed).
    pub fn shared(&self) -> usize {
        if self.feeds < 2 {
            0
        } else {
            self.items * self.shared_percent / 100
        }
    }

    /// Stories each feed owns.
    pub fn own(&self) -> usize {
        self.items - self.shared()
    }

    /// Own stories per feed that rewrite another outlet's (the last ones).
    pub fn rewrites(&self) -> usize {
        if self.feeds < 2 {
            0
        } else {
            self.own() * self.rewrite_percent / 100
        }
    }

    /// Distinct stories in the whole corpus.
    pub fn distinct_stories(&self) -> usize {
        self.feeds * self.own()
    }

    /// Whether feed `i` is EUC-KR: spread evenly (3 of every 20 at 15%).
    pub fn is_euc_kr(&self, i: usize) -> bool {
        (i * self.euc_kr_percent) % 100 + self.euc_kr_percent >= 100
    }

    /// The name (file stem and source id) of feed `i`.
    pub fn name(i: usize) -> String {
        format!("f{i:04}")
    }

    /// Builds feed `i`.
    pub fn feed(&self, i: usize) -> Feed {
        let euc_kr = self.is_euc_kr(i);
        let rewritten_from = (i + self.feeds / 2) % self.feeds.max(1);
        let mut items: Vec<(Story, Variant)> = (0..self.own())
            .map(|j| match j >= self.own() - self.rewrites() {
                true => (self.rewrite(i, rewritten_from, j), Variant::Original),
                false => (self.story(i, j), Variant::Original),
            })
            .collect();
        if self.shared() > 0 {
            let prev = (i + self.feeds - 1) % self.feeds;
            for j in 0..self.shared() {
                items.push((self.story(prev, j), Variant::Borrowed(j % 3)));
            }
        }
        // Newest first, as outlets publish.
        items.sort_by_key(|item| std::cmp::Reverse(item.0.published));

        let mut xml = String::with_capacity(self.items * 1100 + 1000);
        let outlet = outlet(i);
        let _ = write!(
            xml,
            "<?xml version=\"1.0\" encoding=\"{}\"?>\n\
             <rss version=\"2.0\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\">\n<channel>\n\
             <title>벤치일보 {i:04} 전체기사</title>\n<link>https://www.{outlet}/</link>\n\
             <description>sosik 벤치마크용 합성 피드 {i:04}. 기사는 모두 지어낸 것입니다.</description>\n\
             <language>ko</language>\n<lastBuildDate>{}</lastBuildDate>\n<ttl>10</ttl>\n",
            if euc_kr { "euc-kr" } else { "UTF-8" },
            rfc822(items.first().map_or(self.base, |s| s.0.published)),
        );
        let mut it_items = 0;
        for (story, variant) in &items {
            if story.categories.iter().any(|c| c.starts_with("IT")) {
                it_items += 1;
            }
            story.write_item(&mut xml, *variant, i.is_multiple_of(2));
        }
        xml.push_str("</channel>\n</rss>\n");

        let bytes = if euc_kr {
            let (bytes, _, unmappable) = encoding_rs::EUC_KR.encode(&xml);
            assert!(!unmappable, "feed {i}: text outside EUC-KR");
            bytes.into_owned()
        } else {
            xml.into_bytes()
        };
        Feed {
            name: Spec::name(i),
            euc_kr,
            bytes,
            items: items.len(),
            it_items,
        }
    }

    /// Feed `i`'s rewrite of story `j` of feed `from`: its event, told under `i`'s own link with
    /// a tag and a wire byline, first published a few minutes later.
    fn rewrite(&self, i: usize, from: usize, j: usize) -> Story {
        let original = self.story(from, j);
        let own = self.story(i, j);
        Story {
            outlet: own.outlet,
            path: format!("{}r", own.path),
            guid: own.guid,
            author: own.author,
            title: format!("[종합] {}", original.title),
            categories: original.categories,
            published: original.published + Duration::minutes(7),
            description: format!("(서울=벤치뉴스) 김민준 기자 = {}", original.description),
        }
    }

    /// Story `j` owned by feed `i`.
    fn story(&self, i: usize, j: usize) -> Story {
        let mut rng = fastrand::Rng::with_seed(
            self.seed
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .wrapping_add(((i as u64) << 20) | j as u64),
        );
        // Newest first within a feed, feeds interleaved, over 30 days.
        let slots = (self.feeds * self.own()).max(1) as i64;
        let step = (30 * 86_400 / slots).max(1);
        let slot = (j * self.feeds + i) as i64;
        let published = self.base - Duration::seconds(slot * step + rng.i64(0..step.min(60)));
        let korean_only = self.is_euc_kr(i) || rng.u8(0..10) < 7;
        let number = 1_000_000 + i * 1_000 + j;
        let category = pick_category(&mut rng);
        let mut categories = vec![category.to_owned()];
        if rng.u8(0..10) == 0 {
            categories.push("속보".to_owned());
        }
        let slug = slug_of(category);
        // Each story states a figure of its own, as news does: without one, stories built from
        // the same word lists would read as one event to story merging (issue 20).
        let title = if korean_only {
            format!("{} {}억원", korean_title(&mut rng), number % 9_973)
        } else {
            format!("{} ${} million", english_title(&mut rng), number % 9_973)
        };
        let description = description(&mut rng, korean_only, &outlet(i), slug, number);
        Story {
            outlet: outlet(i),
            path: format!("/news/{slug}/{number}"),
            guid: match j % 4 {
                0 => Guid::Opaque(format!("{}-{number}", Spec::name(i))),
                1 => Guid::Permalink,
                _ => Guid::None,
            },
            author: (rng.u8(0..2) == 0).then(|| {
                let name = pick(&mut rng, SURNAMES).to_owned() + pick(&mut rng, GIVEN_NAMES);
                format!("reporter{}@{} ({name} 기자)", rng.u16(1..400), outlet(i))
            }),
            title,
            categories,
            published,
            description,
        }
    }
}

/// How an item spells its story: the owner's way, or a neighbour's copy (three spellings).
#[derive(Debug, Clone, Copy)]
enum Variant {
    Original,
    Borrowed(usize),
}

#[derive(Debug, Clone)]
enum Guid {
    None,
    Opaque(String),
    Permalink,
}

#[derive(Debug, Clone)]
struct Story {
    outlet: String,
    path: String,
    guid: Guid,
    author: Option<String>,
    title: String,
    categories: Vec<String>,
    published: DateTime<FixedOffset>,
    description: String,
}

impl Story {
    fn write_item(&self, xml: &mut String, variant: Variant, cdata: bool) {
        let link = match variant {
            Variant::Original | Variant::Borrowed(0) => {
                format!("https://www.{}{}", self.outlet, self.path)
            }
            Variant::Borrowed(1) => format!(
                "https://www.{}{}?utm_source=rss&amp;utm_medium=feed&amp;utm_campaign=bench",
                self.outlet, self.path
            ),
            Variant::Borrowed(_) => format!(
                "https://WWW.{}{}#comments",
                self.outlet.to_ascii_uppercase(),
                self.path
            ),
        };
        xml.push_str("<item>\n<title>");
        text(xml, &self.title, cdata);
        let _ = write!(xml, "</title>\n<link>{link}</link>\n");
        match (&self.guid, variant) {
            // A neighbour's copy has its own guid scheme (or none): guids never identify
            // across feeds, the canonical link does.
            (_, Variant::Borrowed(_)) | (Guid::None, _) => {}
            (Guid::Opaque(g), _) => {
                let _ = writeln!(xml, "<guid isPermaLink=\"false\">{g}</guid>");
            }
            (Guid::Permalink, _) => {
                let _ = writeln!(xml, "<guid>{link}</guid>");
            }
        }
        for (n, category) in self.categories.iter().enumerate() {
            // Copies sometimes spell the middle dot the other way, as outlets do.
            let category = match variant {
                Variant::Borrowed(1) if n == 0 && category == "IT·과학" => "ITㆍ과학",
                _ => category,
            };
            let _ = writeln!(xml, "<category>{category}</category>");
        }
        let _ = writeln!(xml, "<pubDate>{}</pubDate>", rfc822(self.published));
        if let Some(author) = &self.author {
            let _ = writeln!(xml, "<author>{author}</author>");
        }
        xml.push_str("<description>");
        text(xml, &self.description, cdata);
        xml.push_str("</description>\n</item>\n");
    }
}

/// Character data, as CDATA or escaped (feeds do both).
fn text(xml: &mut String, s: &str, cdata: bool) {
    if cdata {
        let _ = write!(xml, "<![CDATA[{s}]]>");
    } else {
        for c in s.chars() {
            match c {
                '&' => xml.push_str("&amp;"),
                '<' => xml.push_str("&lt;"),
                '>' => xml.push_str("&gt;"),
                c => xml.push(c),
            }
        }
    }
}

fn rfc822(t: DateTime<FixedOffset>) -> String {
    let kst = FixedOffset::east_opt(9 * 3600).expect("a valid offset");
    kst.from_utc_datetime(&t.naive_utc())
        .format("%a, %d %b %Y %H:%M:%S %z")
        .to_string()
}

fn outlet(i: usize) -> String {
    format!("outlet{i:04}.example")
}

fn pick<'a>(rng: &mut fastrand::Rng, list: &[&'a str]) -> &'a str {
    list[rng.usize(0..list.len())]
}

/// About 12% of stories are IT·과학, in both spellings.
fn pick_category(rng: &mut fastrand::Rng) -> &'static str {
    match rng.u8(0..100) {
        0..6 => "IT·과학",
        6..12 => "ITㆍ과학",
        _ => pick(rng, OTHER_CATEGORIES),
    }
}

fn slug_of(category: &str) -> &'static str {
    match category {
        "IT·과학" | "ITㆍ과학" => "it",
        "경제" | "증권" | "부동산" => "economy",
        "정치" => "politics",
        "국제" => "world",
        "스포츠" => "sports",
        "문화" => "culture",
        "오피니언" => "opinion",
        _ => "society",
    }
}

/// Whether a Hangul syllable ends in a consonant (picks 은/는, 이/가, 을/를, 과/와).
fn has_final(word: &str) -> bool {
    word.chars()
        .last()
        .map(|c| c as u32)
        .is_some_and(|c| (0xAC00..=0xD7A3).contains(&c) && (c - 0xAC00) % 28 != 0)
}

fn particle(word: &str, with_final: &str, without: &str) -> String {
    format!(
        "{word}{}",
        if has_final(word) { with_final } else { without }
    )
}

fn korean_title(rng: &mut fastrand::Rng) -> String {
    let (a, b, c) = (
        pick(rng, SUBJECTS),
        pick(rng, TOPICS),
        pick(rng, TITLE_ACTIONS),
    );
    match rng.u8(0..4) {
        0 => format!("{a}, {b} {c}…{}", pick(rng, REACTIONS)),
        1 => format!("\"{b} {c}\" {a} {}", pick(rng, TITLE_TAILS)),
        2 => format!("[{}] {a}·{} {b} {c}", pick(rng, TAGS), pick(rng, SUBJECTS)),
        _ => format!("{a} {b} {c}"),
    }
}

fn english_title(rng: &mut fastrand::Rng) -> String {
    let (a, b, c) = (
        pick(rng, EN_SUBJECTS),
        pick(rng, EN_VERBS),
        pick(rng, EN_OBJECTS),
    );
    match rng.u8(0..3) {
        0 => format!("{a} {b} {c}"),
        1 => format!(
            "{a} {b} {c} as {} {}",
            pick(rng, EN_SUBJECTS),
            pick(rng, EN_TAILS)
        ),
        _ => format!("{}: {a} {b} {c}", pick(rng, EN_TAGS)),
    }
}

fn korean_sentence(rng: &mut fastrand::Rng) -> String {
    let (a, b, c) = (pick(rng, SUBJECTS), pick(rng, TOPICS), pick(rng, TOPICS));
    format!(
        "{} {} {} {} {}",
        particle(a, "은", "는"),
        pick(rng, WHEN),
        particle(b, "과", "와"),
        particle(c, "을", "를"),
        pick(rng, VERBS)
    )
}

fn english_sentence(rng: &mut fastrand::Rng) -> String {
    format!(
        "{} {} {} {}, {}.",
        pick(rng, EN_SUBJECTS),
        pick(rng, EN_VERBS),
        pick(rng, EN_OBJECTS),
        pick(rng, EN_WHEN),
        pick(rng, EN_TAILS)
    )
}

/// About 600 bytes of HTML: paragraphs, sometimes an image, a relative "related" link.
fn description(
    rng: &mut fastrand::Rng,
    korean_only: bool,
    outlet: &str,
    slug: &str,
    number: usize,
) -> String {
    let mut html = String::with_capacity(700);
    if rng.u8(0..10) < 3 {
        let _ = write!(
            html,
            "<img src=\"https://img.{outlet}/{slug}/{number}.jpg\" alt=\"{}\" width=\"640\">",
            pick(rng, TOPICS)
        );
    }
    // Sized so a feed of 50 items is ~40 KB (issue 6: ~80 MB for 2,000 feeds).
    while html.len() < 330 {
        html.push_str("<p>");
        for _ in 0..rng.usize(1..3) {
            if korean_only || rng.bool() {
                html.push_str(&korean_sentence(rng));
            } else {
                html.push_str(&english_sentence(rng));
            }
            html.push(' ');
        }
        html.pop();
        html.push_str("</p>");
    }
    let _ = write!(
        html,
        "<p><a href=\"/news/{slug}/{}\">관련 기사</a> · <b>{}</b></p>",
        number.saturating_sub(1),
        pick(rng, TAGS)
    );
    html
}

const OTHER_CATEGORIES: &[&str] = &[
    "경제",
    "정치",
    "사회",
    "국제",
    "문화",
    "스포츠",
    "증권",
    "부동산",
    "오피니언",
];

const SURNAMES: &[&str] = &["김", "이", "박", "최", "정", "강", "조", "윤", "장", "임"];
const GIVEN_NAMES: &[&str] = &[
    "민준", "서연", "지훈", "하은", "도윤", "수아", "현우", "지민", "예준", "채원",
];

const SUBJECTS: &[&str] = &[
    "정부",
    "삼성전자",
    "SK하이닉스",
    "현대차",
    "네이버",
    "카카오",
    "LG에너지솔루션",
    "한국은행",
    "금융위원회",
    "과학기술정보통신부",
    "서울시",
    "국회",
    "중소벤처기업부",
    "포스코",
    "한국전력",
    "통계청",
    "KAIST 연구팀",
    "스타트업 업계",
    "증권가",
    "전문가들",
];

const TOPICS: &[&str] = &[
    "AI 반도체",
    "고대역폭 메모리",
    "전기차 배터리",
    "양자컴퓨터",
    "기준금리",
    "가계부채",
    "수출 실적",
    "부동산 공급",
    "데이터센터",
    "클라우드 서비스",
    "자율주행",
    "우주 발사체",
    "탄소중립",
    "원전 수출",
    "R&D 예산",
    "디지털 플랫폼",
    "바이오 신약",
    "소프트웨어 인재",
    "5G 요금제",
    "사이버 보안",
    "스마트폰 판매",
    "반도체 장비",
    "청년 일자리",
    "물가 상승률",
];

const TITLE_ACTIONS: &[&str] = &[
    "투자 확대",
    "본격 추진",
    "양산 착수",
    "규제 완화",
    "실적 발표",
    "협력 강화",
    "신제품 공개",
    "전략 수정",
    "가격 인상",
    "시장 진출",
];

const REACTIONS: &[&str] = &[
    "업계 긴장",
    "시장 주목",
    "기대감 커져",
    "우려 목소리도",
    "경쟁 본격화",
];

const TITLE_TAILS: &[&str] = &["밝혀", "강조", "발표", "예고", "검토"];

const TAGS: &[&str] = &["단독", "속보", "분석", "인터뷰", "현장", "기획"];

const WHEN: &[&str] = &[
    "올해 하반기",
    "내년 상반기까지",
    "지난달",
    "이번 주",
    "업계에 따르면",
    "26일",
    "최근",
];

const VERBS: &[&str] = &[
    "발표했다.",
    "추진한다고 밝혔다.",
    "검토하고 있다.",
    "강조했다.",
    "공개했다.",
    "확대하기로 했다.",
    "논의할 예정이다.",
    "점검했다.",
];

const EN_SUBJECTS: &[&str] = &[
    "Samsung",
    "The central bank",
    "Seoul",
    "Chipmakers",
    "Analysts",
    "A KAIST team",
    "Regulators",
    "Startups",
    "Exporters",
    "The ministry",
];

const EN_VERBS: &[&str] = &[
    "expands",
    "unveils",
    "delays",
    "doubles down on",
    "reviews",
    "bets on",
    "cuts spending on",
    "ramps up",
];

const EN_OBJECTS: &[&str] = &[
    "AI chips",
    "HBM output",
    "battery plants",
    "quantum research",
    "rate guidance",
    "cloud regions",
    "EV subsidies",
    "5G pricing",
    "data centres",
    "R&D budgets",
];

const EN_WHEN: &[&str] = &[
    "this quarter",
    "next year",
    "after a weak summer",
    "ahead of the election",
    "within months",
];

const EN_TAILS: &[&str] = &[
    "sources say",
    "according to filings",
    "demand stays strong",
    "rivals catch up",
    "markets react",
];

const EN_TAGS: &[&str] = &["Exclusive", "Analysis", "Update", "Explainer"];
