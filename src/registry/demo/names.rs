//! Given names and surnames of Khyber Pakhtunkhwa in Latin and Urdu script. A household's
//! names are all written in one script, as one clerk would enter them: a name that mixes
//! scripts ("Rahim یوسفزئی") is not one anyone writes.

/// A name as (Latin, Urdu).
pub(super) type Name = (&'static str, &'static str);

/// The name in Urdu script, or in Latin.
pub(super) fn pick(name: &Name, urdu: bool) -> &'static str {
    if urdu { name.1 } else { name.0 }
}

/// Men's given names.
pub(super) const MALE: &[Name] = &[
    ("Muhammad", "محمد"),
    ("Ahmad", "احمد"),
    ("Gul", "گل"),
    ("Sher", "شیر"),
    ("Khan", "خان"),
    ("Zahid", "زاہد"),
    ("Imran", "عمران"),
    ("Bilal", "بلال"),
    ("Hamid", "حامد"),
    ("Noor", "نور"),
    ("Rahim", "رحیم"),
    ("Saeed", "سعید"),
    ("Fazal", "فضل"),
    ("Wali", "ولی"),
    ("Tariq", "طارق"),
    ("Javed", "جاوید"),
    ("Akbar", "اکبر"),
    ("Ismail", "اسماعیل"),
    ("Yousaf", "یوسف"),
    ("Hassan", "حسن"),
];

/// Women's given names.
pub(super) const FEMALE: &[Name] = &[
    ("Fatima", "فاطمہ"),
    ("Ayesha", "عائشہ"),
    ("Zainab", "زینب"),
    ("Gul Bibi", "گل بی بی"),
    ("Shabana", "شبانہ"),
    ("Nasreen", "نسرین"),
    ("Rukhsana", "رخسانہ"),
    ("Bushra", "بشریٰ"),
    ("Zarmina", "زرمینہ"),
    ("Malala", "ملالہ"),
    ("Sana", "ثناء"),
    ("Amina", "آمنہ"),
    ("Khadija", "خدیجہ"),
    ("Parveen", "پروین"),
    ("Shazia", "شازیہ"),
];

/// Family (tribal) names.
pub(super) const FAMILY: &[Name] = &[
    ("Khan", "خان"),
    ("Afridi", "آفریدی"),
    ("Yousafzai", "یوسفزئی"),
    ("Shinwari", "شنواری"),
    ("Khattak", "خٹک"),
    ("Bangash", "بنگش"),
    ("Marwat", "مروت"),
    ("Orakzai", "اورکزئی"),
    ("Mohmand", "مہمند"),
    ("Wazir", "وزیر"),
    ("Durrani", "درانی"),
    ("Swati", "سواتی"),
    ("Mahsud", "محسود"),
];
