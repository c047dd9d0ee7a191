"""A labelled evaluation set for identity resolution.

`generate(seed, people)` builds the accounts that the developer tools of one organisation
(acme.io, which acquired initech.com in 2025) hold for about `people` humans and a few
bots, each with the person it truly belongs to (`Account.truth`). It is meant to be hard in
the ways real data is hard, not to suit any one matcher: names in several scripts and
romanizations, nicknames, surnames that changed, two people with one name, hidden emails,
personal and noreply commit emails, laptop-default commit emails, shared mailboxes and CI
accounts that look like people. Each account carries the hard-case tags that apply to it
(`EvalSet.tags`), so a matcher's errors can be broken down by case.

Everything is drawn from one `random.Random(seed)`; the same arguments give the same set.
"""

# ruff: noqa: RUF001 (names are written in their own scripts on purpose)

from __future__ import annotations

import bisect
import functools
import itertools
import random
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from types import MappingProxyType
from typing import NamedTuple

PROVIDERS = (
    "github", "gitlab", "git", "jira", "linear", "slack", "pagerduty", "okta", "bamboohr",
    "google_calendar",
)  # fmt: skip

# The tags the brief asks for; `EvalSet.tags` may carry more (see `EXTRA_TAGS`).
HARD_CASES = (
    "shared_first_name", "same_full_name", "changed_surname", "personal_and_work_email",
    "noreply", "typo", "nickname", "transliteration", "handle_only", "hidden_email",
    "shared_mailbox", "left_and_rejoined", "bot_lookalike",
)  # fmt: skip
EXTRA_TAGS = (
    "bot", "old_domain", "renamed_login", "laptop_email", "email_case", "name_order",
    "lowercase", "given_name_only", "middle_initial", "partial_surname", "decorated_name",
    "no_display_name", "employee_id_format", "contractor", "old_surname",
    "dangling_sso",
)  # fmt: skip

DOMAIN = "acme.io"
OLD_DOMAIN = "initech.com"  # the acquired company's domain
ACQUIRED_ON = date(2025, 6, 2)
WINDOW = (date(2025, 1, 1), date(2026, 6, 30))  # the span of `Account.activity`
NOREPLY = "users.noreply.github.com"
# GitHub gave `<id>+<login>@` noreply addresses to accounts from this day; older ones that
# had hidden their email kept committing as `<login>@`.
NOREPLY_ID_SINCE = 2017

# -- the public types -----------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    """One account as its vendor describes it, with the person it truly belongs to."""

    provider: str
    external_id: str  # the vendor id; for provider 'git' the lower-cased email
    login: str | None
    display_name: str | None
    emails: tuple[str, ...]  # as the vendor states them; () when unknown
    is_bot: bool  # what the vendor says
    sso_subject: str | None
    employee_id: str | None
    activity: tuple[tuple[str, date], ...]  # (repository full name, day)
    truth: str  # 'p0042' or 'bot:dependabot'


@dataclass(frozen=True)
class EvalSet:
    """The accounts of a generated organisation and the hard cases each one carries."""

    accounts: tuple[Account, ...]
    people: int  # distinct humans
    seed: int
    tags: Mapping[tuple[str, str], frozenset[str]] = field(
        default_factory=lambda: _NO_TAGS, repr=False, hash=False
    )

    def hard_cases(self) -> dict[str, int]:
        """Accounts per hard-case tag (every tag of `HARD_CASES`, also when 0)."""
        counts: Counter[str] = Counter()
        for tags in self.tags.values():
            counts.update(tags)
        return {tag: counts[tag] for tag in (*HARD_CASES, *sorted(set(counts) - set(HARD_CASES)))}

    def hard_case_people(self) -> dict[str, int]:
        """Distinct true persons (or bots) per hard-case tag."""
        return {tag: len(self.people_with(tag)) for tag in self.hard_cases()}

    def tags_of(self, account: Account) -> frozenset[str]:
        """The hard-case tags of one account."""
        return self.tags.get((account.provider, account.external_id), frozenset())

    def people_with(self, tag: str) -> frozenset[str]:
        """Truth keys of the accounts that carry `tag`."""
        return frozenset(a.truth for a in self.accounts if tag in self.tags_of(a))


_NO_TAGS: Mapping[tuple[str, str], frozenset[str]] = MappingProxyType({})


def generate(seed: int = 7, people: int = 500) -> EvalSet:
    """The evaluation set of an organisation of `people` humans, drawn from `seed`."""
    if people < 1:
        raise ValueError("people must be at least 1")
    return _Generator(seed, people).run()


# -- names ----------------------------------------------------------------------------------
# Entries are separated by ';' or new lines. A given name is
# `latin|native script|m or f|other romanizations|nicknames`; a family name is
# `latin|native|other romanizations`, with `male/female` forms where they differ.


@dataclass(frozen=True)
class _Given:
    latin: str
    native: str | None
    female: bool
    variants: tuple[str, ...]
    nicknames: tuple[str, ...]


@dataclass(frozen=True)
class _Family:
    latin: str
    native: str | None
    variants: tuple[str, ...]


@dataclass(frozen=True)
class _Culture:
    key: str
    weight: int
    script: str | None  # zh ja ko ru ar el: display names may be written in it
    eastern: float  # share who write their Latin name family-first
    givens: tuple[_Given, ...]
    families: tuple[tuple[_Family, _Family], ...]  # (male form, female form)
    adopted: float = 0.0  # share going by an adopted English given name
    second_surname: float = 0.0  # share with two family names (Spanish, Portuguese)
    middles: tuple[tuple[str, ...], ...] = ()  # Vietnamese middle names: (male, female)
    mail: tuple[str, ...] = ()  # local personal mail providers
    renames: bool = True  # surnames change on marriage here


def _split(text: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in text.split(",") if s.strip())


def _entries(text: str) -> list[str]:
    return [e.strip() for e in text.replace("\n", ";").split(";") if e.strip()]


def _givens(text: str) -> tuple[_Given, ...]:
    out = []
    for entry in _entries(text):
        latin, native, sex, variants, nicks = (*entry.split("|"), "", "", "", "")[:5]
        out.append(_Given(latin, native or None, sex == "f", _split(variants), _split(nicks)))
    return tuple(out)


def _feminine(culture: str, name: str) -> str:
    if culture == "ru" and name.endswith(("ov", "ev", "yov", "in", "ов", "ев", "ёв", "ин")):
        return name + ("а" if name[-1] in "вн" else "a")
    if culture == "pl" and name.endswith(("ski", "cki", "dzki")):
        return name[:-1] + "a"
    return name


def _families(culture: str, text: str) -> tuple[tuple[_Family, _Family], ...]:
    out = []
    for entry in _entries(text):
        latin, native, variants = (*entry.split("|"), "", "")[:3]
        lm, _, lf = latin.partition("/")
        nm, _, nf = native.partition("/")
        vm = tuple(v.partition("/")[0] for v in _split(variants))
        vf = tuple(v.partition("/")[2] or _feminine(culture, v) for v in _split(variants))
        male = _Family(lm, nm or None, vm)
        female = _Family(lf or _feminine(culture, lm), (nf or _feminine(culture, nm)) or None, vf)
        out.append((male, female))
    return tuple(out)


_CULTURES = (
    _Culture(
        "en", 22, None, 0.0,
        _givens("""
            James||m||Jim,Jimmy,Jamie; John||m||Jack,Johnny; Robert||m||Bob,Rob,Bobby
            Michael||m||Mike; William||m||Bill,Will,Liam; David||m||Dave; Richard||m||Rick,Rich
            Joseph||m||Joe; Thomas||m||Tom; Christopher||m||Chris; Daniel||m||Dan,Danny
            Matthew||m||Matt; Anthony||m||Tony; Andrew||m||Andy,Drew; Joshua||m||Josh
            Kevin||m||; Brian||m||; Nicholas||m||Nick; Jonathan||m||Jon; Benjamin||m||Ben
            Zachary||m||Zach; Timothy||m||Tim; Steven||m||Steve; Edward||m||Ed,Ted
            Jacob||m||Jake; Alexander||m||Alex,Sasha,Xander; Emily||f||Em; Sarah||f||
            Jennifer||f||Jen,Jenny; Jessica||f||Jess; Elizabeth||f||Liz,Beth,Eliza
            Katherine||f||Kate,Katie,Kat; Margaret||f||Maggie,Meg,Peggy; Rebecca||f||Becky,Becca
            Samantha||f||Sam; Laura||f||; Rachel||f||; Megan||f||Meg; Hannah||f||
            Olivia||f||Liv; Emma||f||; Grace||f||; Patricia||f||Pat,Trish; Susan||f||Sue
            Victoria||f||Vicky,Tori; Abigail||f||Abby
        """),
        _families("en", """
            Smith; Johnson; Williams; Brown; Jones; Miller; Davis; Wilson; Anderson; Taylor
            Moore; Martin; Jackson; Thompson; White; Harris; Clark; Lewis; Robinson; Walker
            Young; Allen; King; Wright; Scott; Hill; Green; Adams; Baker; Nelson; Carter
            Mitchell; Roberts; Turner; Phillips; Campbell; Parker; Evans; Edwards; Collins
            Stewart; Murphy; Cook; Rogers; Morgan; Cooper; Reed; Bailey; Kelly; O'Brien
            McDonald; Sullivan
        """),
    ),
    _Culture(
        "in", 14, None, 0.0,
        _givens("""
            Rahul||m||; Priya||f||; Amit||m||; Ananya||f||; Arjun||m||; Deepika||f||Deepa
            Vikram||m||Vik,Vicky; Sneha||f||; Rohan||m||; Kavya||f||
            Venkatesh||m|Venkatesan|Venky; Lakshmi||f|Laxmi|; Sanjay||m||; Aditi||f||
            Karthik||m|Karthick,Kartik|; Divya||f||; Suresh||m||; Pooja||f|Puja|
            Subramanian||m|Subramaniam|Subbu; Nikhil||m||Nik; Shreya||f|Sreya|; Harish||m||
            Meera||f|Mira|; Rajesh||m||Raj; Srinivas||m|Sreenivas,Shrinivas|Srini; Anjali||f||
        """),
        _families("in", """
            Sharma; Patel; Gupta; Singh; Kumar; Reddy; Iyer; Nair; Rao; Mehta; Joshi; Desai
            Krishnan; Menon; Agarwal||Aggarwal,Agrawal; Chatterjee; Banerjee; Mukherjee; Pillai
            Shah; Verma; Bhat||Bhatt; Ramasubramanian; Venkataraman
            Chaudhary||Choudhary,Chaudhry
        """),
    ),
    _Culture(
        "zh", 10, "zh", 0.35,
        _givens("""
            Wei|伟|m||; Fang|芳|f||; Jing|静|f||; Lei|磊|m||; Min|敏|f||; Jun|军|m||; Yang|洋|m||
            Yan|艳|f||; Hao|浩|m||; Xin|欣|f||; Yu|宇|m||; Jie|杰|m||; Ling|玲|f||; Tao|涛|m||
            Xiaoming|晓明|m|Xiao-Ming,Hsiao-Ming|; Zihan|子涵|f|Zi-Han,Tzu-Han|
            Yiming|一鸣|m|Yi-Ming|; Haoran|浩然|m|Hao-Ran|; Mei|梅|f||; Qiang|强|m|Chiang|
            Yuxuan|雨萱|f|Yu-Hsuan|; Jiahui|佳慧|f|Chia-Hui|; Zhiwei|志伟|m|Chih-Wei|
        """),
        _families("zh", """
            Wang|王|Wong; Li|李|Lee; Zhang|张|Chang,Cheung; Liu|刘|Lau; Chen|陈|Chan
            Yang|杨|Yeung; Huang|黄|Hwang,Wong; Zhao|赵|Chao; Wu|吴|Woo,Ng; Zhou|周|Chou,Chow
            Xu|徐|Hsu,Tsui; Sun|孙|Suen; Ma|马|; Zhu|朱|Chu; Hu|胡|; Guo|郭|Kuo,Kwok; Lin|林|Lam
            He|何|Ho; Gao|高|Kao; Luo|罗|Lo,Law
        """),
        adopted=0.35,
        mail=("qq.com", "163.com"),
        renames=False,
    ),
    _Culture(
        "es", 9, None, 0.0,
        _givens("""
            José||m||Pepe; María||f||Mari; Juan||m||; Carlos||m||Charlie; Luis||m||
            Javier||m||Javi; Alejandro||m||Alex,Ale; Francisco||m||Paco,Fran
            Guillermo||m||Memo,Guille; Sofía||f||; Lucía||f||Lu; Carmen||f||; Ana||f||
            Pablo||m||; Diego||m||; Andrés||m||Andy; Camila||f||Cami; Valentina||f||Vale
            Martín||m||; Isabel||f||Isa; Raúl||m||; Inés||f||; Jorge||m||; Mariana||f||
        """),
        _families("es", """
            García; Rodríguez; Martínez; López; González; Hernández; Pérez; Sánchez; Ramírez
            Torres; Flores; Rivera; Gómez; Díaz; Reyes; Morales; Jiménez; Ruiz; Álvarez; Muñoz
            Peña; Castillo; Ortega; Núñez
        """),
        second_surname=0.5,
        mail=("hotmail.es",),
        renames=False,
    ),
    _Culture(
        "ru", 7, "ru", 0.0,
        _givens("""
            Aleksandr|Александр|m|Alexander,Alexandr|Sasha,Alex
            Dmitry|Дмитрий|m|Dmitriy,Dmitrii,Dmitri|Dima; Sergey|Сергей|m|Sergei,Serguei|
            Andrey|Андрей|m|Andrei|Andrew; Alexey|Алексей|m|Aleksei,Alexei,Aleksey|Alex,Lyosha
            Mikhail|Михаил|m|Michail|Misha,Mike; Nikolay|Николай|m|Nikolai|Kolya,Nick
            Ivan|Иван|m||Vanya; Yuri|Юрий|m|Yury,Iurii,Yuriy|Yura; Pavel|Павел|m||Pasha,Paul
            Maxim|Максим|m|Maksim|Max; Ekaterina|Екатерина|f|Yekaterina,Katerina|Katya,Kate
            Anastasia|Анастасия|f|Anastasiya,Anastasiia|Nastya; Olga|Ольга|f||
            Natalia|Наталья|f|Natalya,Nataliya|Natasha; Tatiana|Татьяна|f|Tatyana|Tanya
            Elena|Елена|f|Yelena|Lena; Irina|Ирина|f||Ira; Maria|Мария|f|Mariya|Masha
            Svetlana|Светлана|f||Sveta; Yulia|Юлия|f|Julia,Iuliia,Yuliya|
        """),
        _families("ru", """
            Ivanov|Иванов|; Smirnov|Смирнов|; Kuznetsov|Кузнецов|; Popov|Попов|
            Sokolov|Соколов|; Lebedev|Лебедев|; Kozlov|Козлов|; Novikov|Новиков|
            Morozov|Морозов|; Petrov|Петров|; Volkov|Волков|; Solovyov|Соловьёв|Soloviev,Solovev
            Vasiliev|Васильев|Vasilyev,Vasilev; Zaytsev|Зайцев|Zaitsev; Pavlov|Павлов|
            Fedorov|Фёдоров|Fyodorov; Shevchenko|Шевченко|; Kovalenko|Коваленко|
            Bondarenko|Бондаренко|; Tkachenko|Ткаченко|
        """),
        mail=("yandex.ru", "mail.ru"),
    ),
    _Culture(
        "de", 6, None, 0.0,
        _givens("""
            Lukas||m||; Jonas||m||; Felix||m||; Maximilian||m||Max; Leon||m||; Paul||m||
            Johannes||m||Hannes,Jo; Wolfgang||m||Wolf; Jürgen||m|Juergen|; Stefan||m||
            Andreas||m||Andi; Tobias||m||Tobi; Jörg||m|Joerg|; Björn||m|Bjoern|; Anna||f||
            Lena||f||; Katharina||f||Kathi; Julia||f||; Sophie||f||; Sabine||f||; Ute||f||
            Friederike||f||Rike
        """),
        _families("de", """
            Müller||Mueller; Schmidt; Schneider; Fischer; Weber; Meyer; Wagner; Becker; Schulz
            Hoffmann; Schäfer||Schaefer; Koch; Bauer; Richter; Klein; Wolf; Schröder||Schroeder
            Neumann; Schwarz; Zimmermann; Braun; Krüger||Krueger; Hartmann; Lange; Weiß||Weiss
        """),
        mail=("gmx.de", "web.de"),
    ),
    _Culture(
        "pl", 5, None, 0.0,
        _givens("""
            Łukasz||m||Luke; Piotr||m||Peter; Krzysztof||m||Krzysiek,Chris; Tomasz||m||Tomek,Tom
            Paweł||m||Paul; Michał||m||Michael,Mike; Wojciech||m||Wojtek; Marcin||m||
            Jakub||m||Kuba,Jake; Grzegorz||m||Greg; Bartosz||m||Bartek; Katarzyna||f||Kasia,Kate
            Małgorzata||f||Gosia; Agnieszka||f||Aga; Aleksandra||f||Ola,Alex
            Magdalena||f||Magda; Joanna||f||Asia; Zofia||f||Zosia
        """),
        _families("pl", """
            Nowak; Kowalski; Wiśniewski; Wójcik; Kowalczyk; Kamiński; Lewandowski; Zieliński
            Szymański; Woźniak; Dąbrowski; Kozłowski; Jankowski; Mazur; Krawczyk; Grabowski
            Piotrowski; Michalski
        """),
        mail=("wp.pl", "o2.pl"),
    ),
    _Culture(
        "ja", 4, "ja", 0.3,
        _givens("""
            Haruto|陽翔|m||; Yuto|悠斗|m|Yuuto,Yūto|; Sota|蒼太|m|Souta,Sōta|; Takumi|拓海|m||
            Kenji|健二|m||Ken; Hiroshi|浩|m||Hiro; Takashi|隆|m||Taka; Daisuke|大輔|m||Dai
            Shota|翔太|m|Shouta,Shōta|; Ryota|涼太|m|Ryouta,Ryōta|; Kaito|海斗|m||
            Yusuke|雄介|m|Yuusuke,Yūsuke|; Kazuki|一輝|m||Kaz; Kenta|健太|m||; Yuki|由紀|f||
            Sakura|さくら|f||; Aoi|葵|f||; Yui|結衣|f||; Naoko|直子|f||; Akiko|明子|f||
            Emi|恵美|f||; Mai|舞|f||; Haruka|遥|f||
        """),
        _families("ja", """
            Sato|佐藤|Satou,Satō; Suzuki|鈴木|; Takahashi|高橋|; Tanaka|田中|; Watanabe|渡辺|
            Ito|伊藤|Itou,Itō; Yamamoto|山本|; Nakamura|中村|; Kobayashi|小林|; Kato|加藤|Katou,Katō
            Yoshida|吉田|; Yamada|山田|; Sasaki|佐々木|; Matsumoto|松本|; Inoue|井上|; Kimura|木村|
            Hayashi|林|; Saito|斎藤|Saitou,Saitō; Ono|小野|; Ota|太田|Ohta,Oota,Ōta
            Goto|後藤|Gotou,Gotoh; Kondo|近藤|Kondou,Kondoh
        """),
        adopted=0.05,
    ),
    _Culture(
        "ko", 4, "ko", 0.3,
        _givens("""
            Minjun|민준|m|Min-jun,Min Jun|; Seoyeon|서연|f|Seo-yeon|; Jiho|지호|m|Ji-ho|
            Jiwoo|지우|f|Ji-woo|; Hyunwoo|현우|m|Hyun-woo,Hyeonu|; Jisoo|지수|f|Ji-soo,Jisu|
            Eunji|은지|f|Eun-ji|; Sungmin|성민|m|Sung-min,Seongmin|
            Donghyun|동현|m|Dong-hyun,Donghyeon|; Yejin|예진|f|Ye-jin|; Junho|준호|m|Jun-ho|
            Soyeon|소연|f|So-yeon|; Jaehyun|재현|m|Jae-hyun,Jaehyeon|; Hyejin|혜진|f|Hye-jin|
            Minseo|민서|f|Min-seo|; Taeyang|태양|m|Tae-yang|
        """),
        _families("ko", """
            Kim|김|Gim; Lee|이|Yi,Rhee; Park|박|Pak,Bak; Choi|최|Choe,Choy; Jung|정|Jeong,Chung
            Kang|강|Gang; Cho|조|Jo; Yoon|윤|Yun; Jang|장|Chang; Lim|임|Im,Yim; Han|한|; Shin|신|Sin
            Seo|서|Suh; Kwon|권|Gwon
        """),
        adopted=0.2,
        mail=("naver.com",),
        renames=False,
    ),
    _Culture(
        "ar", 4, "ar", 0.0,
        _givens("""
            Mohammed|محمد|m|Muhammad,Mohamed,Mohammad|Mo; Ahmed|أحمد|m|Ahmad|; Omar|عمر|m|Umar|
            Ali|علي|m||; Youssef|يوسف|m|Yousef,Yusuf|Joe; Khaled|خالد|m|Khalid|
            Hassan|حسن|m|Hasan|; Ibrahim|إبراهيم|m|Ebrahim|; Karim|كريم|m|Kareem|
            Tariq|طارق|m|Tarek,Tareq|; Samir|سمير|m|Sameer|; Fatima|فاطمة|f|Fatma,Fatimah|
            Aisha|عائشة|f|Aicha,Ayesha|; Layla|ليلى|f|Leila,Laila|; Mariam|مريم|f|Maryam|
            Nour|نور|f|Noor|; Rania|رانيا|f||; Yasmin|ياسمين|f|Yasmine|; Huda|هدى|f|Hoda|
            Salma|سلمى|f||
        """),
        _families("ar", """
            Al-Sayed|السيد|El-Sayed,Elsayed; Haddad|حداد|; Khalil|خليل|; Mansour|منصور|Mansur
            Nasser|ناصر|Nasir; Saleh|صالح|Salih; Hamdan|حمدان|; Farouk|فاروق|Farooq
            Abdullah|عبدالله|Abdallah; Al-Masri|المصري|El-Masry,Elmasry; Aziz|عزيز|
            Hussein|حسين|Hussain,Husain; Kassem|قاسم|Qasem,Kasim; Darwish|درويش|
        """),
        renames=False,
    ),
    _Culture(
        "vi", 3, None, 0.5,
        _givens("""
            An||m||; Bình||m||; Châu||f||; Dũng||m||; Hà||f||; Hải||m||; Hạnh||f||; Hiếu||m||
            Hoa||f||; Hùng||m||; Hương||f||; Khánh||m||; Linh||f||; Long||m||; Minh||m||
            Nam||m||; Ngọc||f||; Phương||f||; Quang||m||; Thảo||f||; Thành||m||; Trang||f||
            Tuấn||m||; Việt||m||
        """),
        _families("vi", """
            Nguyễn; Trần; Lê; Phạm; Hoàng; Huỳnh; Phan; Vũ; Võ; Đặng; Bùi; Đỗ; Hồ; Ngô; Dương
            Lý
        """),
        adopted=0.2,
        middles=(("Văn", "Đức", "Minh", "Thanh", "Quốc", "Hữu"), ("Thị", "Ngọc", "Thanh", "Minh")),
        renames=False,
    ),
    _Culture(
        "el", 2, "el", 0.0,
        _givens("""
            Georgios|Γεώργιος|m||Giorgos,George; Dimitrios|Δημήτριος|m|Demetrios|Dimitris,Jim
            Konstantinos|Κωνσταντίνος|m|Constantinos|Kostas,Costas
            Ioannis|Ιωάννης|m||Giannis,Yannis,John; Nikolaos|Νικόλαος|m||Nikos,Nick
            Panagiotis|Παναγιώτης|m||Panos; Christos|Χρήστος|m|Hristos|Chris
            Athanasios|Αθανάσιος|m||Thanos,Thanasis; Eleni|Ελένη|f||Helen; Maria|Μαρία|f||
            Katerina|Κατερίνα|f|Aikaterini|Kate; Sofia|Σοφία|f|Sophia|
            Vasiliki|Βασιλική|f||Vaso,Vicky; Georgia|Γεωργία|f||
        """),
        _families("el", """
            Papadopoulos/Papadopoulou|Παπαδόπουλος/Παπαδοπούλου|; Georgiou|Γεωργίου|Yeorgiou
            Nikolaidis/Nikolaidou|Νικολαΐδης/Νικολαΐδου|; Papadakis/Papadaki|Παπαδάκης/Παπαδάκη|
            Karagiannis/Karagianni|Καραγιάννης/Καραγιάννη|Karayannis/Karayanni
            Oikonomou|Οικονόμου|Economou,Ikonomou; Vlachos/Vlachou|Βλάχος/Βλάχου|
            Alexiou|Αλεξίου|; Makris/Makri|Μακρής/Μακρή|; Dimitriou|Δημητρίου|
        """),
    ),
    _Culture(
        "fr", 3, None, 0.0,
        _givens("""
            François||m||; Guillaume||m||; Jean-Baptiste||m||JB; Benoît||m||Ben
            Frédéric||m||Fred; Nicolas||m||Nico; Sébastien||m||Seb; Alexandre||m||Alex
            Thibault||m|Thibaut|; Antoine||m||; Hélène||f||; Stéphanie||f||Steph; Élodie||f||
            Mathilde||f||; Camille||f||; Margaux||f||; Chloé||f||; Aurélie||f||
        """),
        _families("fr", """
            Martin; Bernard; Dubois; Thomas; Robert; Richard; Petit; Durand; Leroy; Moreau
            Lefèvre||Lefebvre; Girard; Fontaine; Rousseau; Lambert; Bonnet; Mercier; Faure
        """),
        mail=("orange.fr", "free.fr"),
    ),
    _Culture(
        "tr", 2, None, 0.0,
        _givens("""
            Mehmet||m||; Mustafa||m||; Ahmet||m||; Emre||m||; Burak||m||; Çağrı||m||
            Gökhan||m||; Yiğit||m||; İsmail||m||; İbrahim||m||; Ayşe||f||; Fatma||f||; Şule||f||
            Özge||f||; Elif||f||; Zeynep||f||; Büşra||f||; Merve||f||
        """),
        _families("tr", """
            Yılmaz; Kaya; Demir; Şahin; Çelik; Yıldız; Yıldırım; Öztürk; Aydın; Özdemir; Arslan
            Doğan; Kılıç; Aslan
        """),
    ),
    _Culture(
        "ng", 2, None, 0.0,
        _givens("""
            Chukwuemeka||m||Emeka; Oluwaseun||m||Seun; Oluwatobi||m||Tobi; Adebayo||m||Bayo
            Oluwafemi||m||Femi; Babatunde||m||Tunde; Nnamdi||m||; Olufunmilayo||f||Funmi
            Temitope||f||Tope; Ifeoma||f||Ife; Chiamaka||f||Amaka; Ngozi||f||; Adaeze||f||Ada
            Folake||f||
        """),
        _families("ng", """
            Okafor; Adeyemi; Okonkwo; Balogun; Eze; Nwosu; Olawale; Obi; Chukwu; Ogunleye
            Afolabi; Bello; Adeleke; Nwachukwu
        """),
    ),
    _Culture(
        "pt", 2, None, 0.0,
        _givens("""
            João||m||; Gabriel||m||Gabi; Lucas||m||; Rafael||m||Rafa; Thiago||m|Tiago|
            Felipe||m||Lipe; Gonçalo||m||; Pedro||m||; Ana||f||; Beatriz||f||Bia; Juliana||f||Ju
            Fernanda||f||Nanda; Camila||f||; Letícia||f||; Mariana||f||; Larissa||f||
        """),
        _families("pt", """
            Silva; Santos; Oliveira; Souza||Sousa; Pereira; Costa; Ferreira; Rodrigues; Almeida
            Carvalho; Gonçalves; Araújo; Ribeiro; Lima; Barbosa
        """),
        second_surname=0.6,
        mail=("hotmail.com", "uol.com.br"),
    ),
)  # fmt: skip

_ADOPTED = (
    "David", "Kevin", "Jenny", "Annie", "Tony", "Eric", "Vivian", "Alice", "Jack", "Leo",
    "Grace", "Jason", "Cindy", "Michael", "Lily", "Daniel", "Linda", "Frank", "Amy", "Sam",
)  # fmt: skip
_HANDLE_A = (
    "night", "quiet", "rusty", "lazy", "cosmic", "silent", "brave", "sleepy", "crimson",
    "hidden", "lucky", "fuzzy", "binary", "async", "null", "pixel", "iron", "neon", "atomic",
    "lunar", "salty", "mellow", "wired", "stray", "static",
)  # fmt: skip
_HANDLE_B = (
    "owl", "fox", "panda", "coder", "hacker", "wolf", "byte", "otter", "falcon", "ninja",
    "koala", "cat", "yak", "tiger", "ghost", "pilot", "monk", "raven", "bear", "squid",
    "pusher", "wizard", "lambda", "kernel", "badger",
)  # fmt: skip
_MAIL = ("gmail.com",) * 12 + ("outlook.com", "hotmail.com", "proton.me", "protonmail.com",
                                "yahoo.com", "icloud.com", "fastmail.com")  # fmt: skip
_LAPTOPS = ("MacBook-Pro", "MacBook-Air", "MBP", "Mac-mini")
_SHARED_MAILBOXES = ("dev", "team", "eng", "platform-team", "mobile-dev", "release")
_MIDDLE_INITIALS = "ABCDEFGHJKLMNPRST"
# GitHub Apps: (slug, the app's bot user id, share of repositories, share of working days,
# commits under its noreply address).
_APPS = (
    ("dependabot", 49699333, 0.8, 0.06, True), ("renovate", 29139614, 0.3, 0.05, True),
    ("github-actions", 41898282, 0.5, 0.04, True), ("codecov", 22429695, 0.4, 0.03, False),
    ("mergify", 37929162, 0.2, 0.04, True), ("sonarcloud", 39514782, 0.3, 0.03, False),
    ("release-please", 55107282, 0.15, 0.02, False), ("pre-commit-ci", 66853113, 0.1, 0.02, True),
)  # fmt: skip
_CI, _DEPLOY, _ALFRED = f"ci@{DOMAIN}", f"deploy@{DOMAIN}", f"alfred@{DOMAIN}"
# Other automation: (bot, provider, id ('' to draw one), login, display name, email, what the
# vendor says, share of repositories, share of working days, looks like a person). Machine
# users are users to GitHub, Okta and Jira; some carry a person's name.
_MACHINES: tuple[tuple[str, str, str, str | None, str, str, bool, float, float, bool], ...] = (
    ("jenkins", "github", "", "acme-ci", "Jenkins CI", _CI, False, 0.4, 0.05, True),
    ("jenkins", "git", _CI, None, "Jenkins CI", _CI, False, 0.2, 0.08, True),
    ("jenkins", "jira", "", None, "Jenkins", "", False, 0, 0, True),
    ("jenkins", "okta", "", _CI, "Jenkins CI", _CI, False, 0, 0, True),
    ("jenkins", "slack", "", "jenkins", "Jenkins", "", True, 0, 0, False),
    ("deploy", "github", "", "acme-deploy-bot", "Deploy Bot", _DEPLOY, False, 0.3, 0.03, False),
    ("deploy", "git", _DEPLOY, None, "Acme Deploy", _DEPLOY, False, 0.3, 0.04, False),
    ("alfred", "github", "", "acme-alfred", "Alfred Pennyworth", _ALFRED, False, 0.1, 0.04, True),
    ("alfred", "git", _ALFRED, None, "Alfred", _ALFRED, False, 0.1, 0.05, True),
    ("alfred", "slack", "", "alfred", "Alfred", _ALFRED, False, 0, 0, True),
    ("snyk", "github", "19733683", "snyk-bot", "Snyk bot", "", False, 0.3, 0.02, False),
    ("snyk", "git", "snyk-bot@snyk.io", None, "snyk-bot", "snyk-bot@snyk.io", False, 0.2, 0.02,
     False),
    ("renovate", "git", "bot@renovateapp.com", None, "Renovate Bot", "bot@renovateapp.com",
     False, 0.1, 0.03, False),
    ("github-actions", "git", "action@github.com", None, "GitHub Action", "action@github.com",
     False, 0.15, 0.03, False),
    ("argocd-image-updater", "git", "noreply@argoproj.io", None, "argocd-image-updater",
     "noreply@argoproj.io", False, 0.1, 0.05, False),
    ("jira-automation", "jira", "557058:f58131cb-b67d-43c7-b30d-6b58d40bd077", None,
     "Automation for Jira", "", True, 0, 0, False),
    ("pagerduty-app", "slack", "", "pagerduty", "PagerDuty", "", True, 0, 0, False),
    ("github-slack-app", "slack", "", "github", "GitHub", "", True, 0, 0, False),
    ("linear-github", "linear", "", "github", "GitHub", "", True, 0, 0, False),
    ("gitlab-project-bot", "gitlab", "", "project_4211_bot_3f9a", "initech-ops bot", "", True,
     0.4, 0.05, False),
    ("pagerduty-events", "pagerduty", "", None, "Events API integration", "", False, 0, 0,
     False),
)  # fmt: skip

# -- name helpers ---------------------------------------------------------------------------

_FOLD = str.maketrans(
    {"ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ø": "o", "Ø": "O", "ß": "ss", "ı": "i", "æ": "ae"}
)


@functools.lru_cache(maxsize=4096)
def _fold(text: str) -> str:
    """Text without diacritics (what an ASCII-only keyboard or system makes of it)."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@functools.lru_cache(maxsize=4096)
def _slug(text: str, keep: str = "-") -> str:
    return "".join(c for c in _fold(text).lower() if c.isascii() and (c.isalnum() or c in keep))


def _typo(rng: random.Random, name: str) -> str:
    """`name` with one slip of the keyboard: two letters swapped, one dropped or doubled."""
    words = name.split(" ")
    candidates = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    if not candidates:
        return name
    i = rng.choice(candidates)
    w = words[i]
    for _ in range(10):
        j = rng.randrange(1, len(w) - 1)
        op = rng.random()
        if op < 0.45:
            new = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
        elif op < 0.8:
            new = w[:j] + w[j + 1 :]
        else:
            new = w[:j] + w[j] + w[j:]
        if new != w:
            words[i] = new
            return " ".join(words)
    return name


def _day(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randrange((last - first).days + 1))


def _weekdays(first: date, last: date) -> list[date]:
    n = (last - first).days + 1
    return [d for d in (first + timedelta(days=i) for i in range(n)) if d.weekday() < 5]


_WORKDAYS = _weekdays(*WINDOW)


def _workdays(first: date, last: date) -> list[date]:
    """Weekdays of the evaluation window between `first` and `last` (inclusive)."""
    return _WORKDAYS[bisect.bisect_left(_WORKDAYS, first) : bisect.bisect_right(_WORKDAYS, last)]


# -- the organisation -----------------------------------------------------------------------

_AREAS = (
    "payments", "checkout", "search", "identity", "platform", "infra", "data", "mobile",
    "web", "growth", "billing", "notifications", "ml", "security", "observability", "devex",
    "api", "integrations", "onboarding", "reporting", "fraud", "pricing", "catalog",
    "logistics", "messaging", "storage", "compute", "networking", "design-system", "ledger",
)  # fmt: skip
_REPO_KINDS = ("api", "service", "web", "worker", "sdk", "lib", "jobs", "ui", "config", "terraform")
_SHARED_REPOS = ("acme/monorepo", "acme/infra", "acme/docs", "acme/ci-templates")
_INITECH_REPOS = ("initech/tps", "initech/reports", "initech/portal", "initech/etl", "initech/ops")
_ROLES = (("engineer", 66), ("sre", 6), ("data", 5), ("manager", 8), ("product", 7),
          ("design", 4), ("other", 4))  # fmt: skip
_CODERS = {"engineer": 0.36, "sre": 0.32, "data": 0.22, "manager": 0.05}

# Display-name styles per provider, with weights (see `_Generator._render`).
_STYLES: dict[str, tuple[tuple[str, int], ...]] = {
    "github": (("common", 40), ("none", 18), ("handle", 9), ("native", 6), ("variant", 2),
               ("ascii", 4), ("lower", 5), ("preferred", 7), ("swap", 3), ("middle", 3),
               ("initial", 3)),
    "gitlab": (("common", 55), ("handle", 14), ("native", 4), ("lower", 5), ("preferred", 8),
               ("ascii", 7), ("none", 7)),
    "git": (("common", 48), ("handle", 12), ("given", 8), ("lower", 8), ("ascii", 11),
            ("native", 4), ("preferred", 5), ("initial", 4)),
    "jira": (("common", 64), ("legal", 12), ("preferred", 8), ("native", 3), ("variant", 3),
             ("middle", 5), ("lower", 2), ("swap", 3)),
    "linear": (("common", 58), ("handle", 10), ("given", 10), ("preferred", 10), ("lower", 4),
               ("native", 4), ("variant", 4)),
    "slack": (("common", 40), ("handle", 9), ("given", 10), ("preferred", 12), ("native", 6),
              ("lower", 5), ("pronouns", 8), ("ascii", 4), ("swap", 3), ("variant", 3)),
    "pagerduty": (("common", 74), ("legal", 10), ("preferred", 8), ("lower", 4), ("ascii", 4)),
    "okta": (("legal", 80), ("preferred", 15), ("middle", 5)),
    "bamboohr": (("hr", 1),),
    "google_calendar": (("common", 50), ("none", 40), ("legal", 10)),
}  # fmt: skip
_CASUAL = frozenset({"common", "lower", "ascii", "swap", "given", "initial", "pronouns"})


@dataclass
class _Person:
    key: str
    culture: _Culture
    given: _Given
    family: _Family
    start: date
    role: str
    second: _Family | None = None
    middle: str | None = None  # Vietnamese middle name, or another culture's middle initial
    preferred: str | None = None  # nickname or adopted given name
    goes_by: bool = False  # uses `preferred` in casual tools
    latin_eastern: bool = False  # writes the Latin name family-first
    native_space: bool = False  # Japanese: a space between family and given name
    hr_ascii: bool = False  # HR stores the name without diacritics
    old_family: _Family | None = None  # surname before `renamed_on`
    renamed_on: date | None = None
    contractor: bool = False
    end: date | None = None
    rejoin: tuple[date, date] | None = None  # (left, came back)
    acquired: bool = False
    segments: list[tuple[int, date, date]] = field(default_factory=list)
    work: str = ""  # the current work email, lower case
    old_work: str | None = None  # the earlier one (old surname or old domain)
    old_work_until: date | None = None
    personal: list[str] = field(default_factory=list)
    caps: bool = False  # IT created the mailbox with capitals ('Jane.Doe@acme.io')
    gh_id: int | None = None
    gh_login: str | None = None
    gh_old_login: str | None = None
    gh_year: int = 2015
    clone_of: str | None = None  # the other person of the same full name
    shared_mailbox: str | None = None  # commits from a shared address
    shared_on_github: str | None = None  # verified a shared address on their GitHub account
    tools: set[str] = field(default_factory=set)
    n_git: int = 0
    days: list[tuple[str, date]] = field(default_factory=list)  # (repo, day) worked on
    typo_provider: str | None = None  # the one tool whose display name has a typo
    okta_id: str | None = None
    numbers: tuple[str, ...] | None = None  # HR employee numbers

    def family_at(self, when: date) -> _Family:
        if self.old_family and self.renamed_on and when < self.renamed_on:
            return self.old_family
        return self.family

    def work_at(self, when: date) -> str:
        if self.old_work and self.old_work_until and when < self.old_work_until:
            return self.old_work
        return self.work

    def stated(self, email: str) -> str:
        """A work email as IT created it (some mailboxes were created with capitals)."""
        if not self.caps:
            return email
        local, _, domain = email.partition("@")
        return ".".join(p[:1].upper() + p[1:] for p in local.split(".")) + "@" + domain


class _Identity(NamedTuple):
    """A commit identity: the email in `git config user.email` over a span of days."""

    kind: str
    email: str  # as stated
    since: date = date.min
    until: date = date.max
    weight: float = 1.0  # share of the commits while several are in use
    tags: frozenset[str] = frozenset()


class _Generator:
    def __init__(self, seed: int, people: int) -> None:
        self.rng = random.Random(seed)  # noqa: S311 (reproducible, not secret)
        self.seed = seed
        self.n = people
        self.accounts: list[Account] = []
        self.tags: dict[tuple[str, str], set[str]] = {}
        self.ids: dict[str, set[str]] = defaultdict(set)
        self.mailboxes: dict[str, str] = {}  # normalised mailbox -> owner
        self.logins: dict[str, set[str]] = defaultdict(set)  # provider -> lower-case logins
        self.team_repos: list[tuple[str, ...]] = []
        self.persons: list[_Person] = []
        self.ids["github"].update(str(app[1]) for app in _APPS)
        self.ids["github"].update(m[2] for m in _MACHINES if m[1] == "github" and m[2])
        for local in ("ci", "deploy", "alfred", *_SHARED_MAILBOXES):
            self._claim(
                f"{local}@{DOMAIN}", "bot" if local in ("ci", "deploy", "alfred") else "shared"
            )

    # -- the run ----------------------------------------------------------------------------

    def run(self) -> EvalSet:
        self._teams()
        self._people()
        self._hard_people()
        for p in self.persons:
            self._emails(p)
            self._github_identity(p)
            self._plan_tools(p)
        self._plan_shared_mailboxes()
        for p in self.persons:
            self._activity(p)
            self._accounts(p)
        self._bots()
        self._person_tags()
        accounts = tuple(sorted(self.accounts, key=lambda a: (a.provider, a.external_id)))
        tags = {k: frozenset(v) for k, v in sorted(self.tags.items())}
        return EvalSet(accounts, self.n, self.seed, MappingProxyType(tags))

    def _add(self, account: Account, tags: Iterable[str] = ()) -> None:
        key = (account.provider, account.external_id)
        if key in self.tags:
            raise AssertionError(f"duplicate account {key}")
        self.accounts.append(account)
        self.tags[key] = set(tags)

    def _id(self, provider: str, make: Callable[[], object]) -> str:
        while True:
            value = str(make())
            if value not in self.ids[provider]:
                self.ids[provider].add(value)
                return value

    def _claim(self, email: str, owner: str) -> bool:
        """Reserve a mailbox for `owner`; False when someone else holds it."""
        local, _, domain = email.lower().partition("@")
        local = local.partition("+")[0]
        if domain in ("gmail.com", "googlemail.com"):
            local = local.replace(".", "")
        box = f"{local}@{domain}"
        holder = self.mailboxes.setdefault(box, owner)
        return holder == owner

    # -- teams and people -------------------------------------------------------------------

    def _teams(self) -> None:
        rng = self.rng
        n_teams = max(2, round(self.n / 7))
        names: list[str] = []
        for i in range(n_teams):
            area = _AREAS[i % len(_AREAS)]
            names.append(area if i < len(_AREAS) else f"{area}-{i // len(_AREAS) + 1}")
        for name in names:
            kinds = rng.sample(_REPO_KINDS, rng.randint(2, 4))
            self.team_repos.append(tuple(f"acme/{name}-{k}" for k in kinds))

    def _people(self) -> None:
        rng = self.rng
        cultures = list(_CULTURES)
        weights = [c.weight for c in cultures]
        roles, role_w = zip(*_ROLES, strict=True)
        n_teams = len(self.team_repos)
        n_acquired = max(1, round(self.n * 0.08)) if self.n >= 20 else 0
        for i in range(self.n):
            culture = rng.choices(cultures, weights)[0]
            given = rng.choice(culture.givens)
            male, female = rng.choice(culture.families)
            p = _Person(
                key=f"p{i + 1:04d}",
                culture=culture,
                given=given,
                family=female if given.female else male,
                start=date(2016, 3, 1),
                role=rng.choices(roles, role_w)[0],
            )
            self._name_details(p)
            p.acquired = i >= self.n - n_acquired
            self._tenure(p, i)
            self._teams_of(p, n_teams)
            self.persons.append(p)

    def _name_details(self, p: _Person) -> None:
        rng, c = self.rng, p.culture
        if c.second_surname and rng.random() < c.second_surname:
            other = rng.choice(c.families)[0]
            if other.latin != p.family.latin:
                p.second = other
        if c.middles:
            p.middle = rng.choice(c.middles[1] if p.given.female else c.middles[0])
        elif c.key in ("en", "de", "fr", "ng", "in") and rng.random() < 0.25:
            p.middle = rng.choice(_MIDDLE_INITIALS)
        if c.adopted and rng.random() < c.adopted:
            p.preferred = rng.choice(_ADOPTED)
            p.goes_by = True
        elif p.given.nicknames and rng.random() < 0.4:
            p.preferred = rng.choice(p.given.nicknames)
            p.goes_by = rng.random() < 0.65
        p.latin_eastern = rng.random() < c.eastern
        p.native_space = rng.random() < 0.5
        has_marks = _fold(p.given.latin + p.family.latin) != p.given.latin + p.family.latin
        p.hr_ascii = has_marks and rng.random() < 0.35

    def _tenure(self, p: _Person, i: int) -> None:
        rng = self.rng
        if i < max(1, self.n // 50):  # the founders' generation
            p.start = _day(rng, date(2016, 1, 4), date(2017, 12, 20))
        elif p.acquired:  # hired by initech before the acquisition
            p.start = _day(rng, date(2018, 1, 8), ACQUIRED_ON - timedelta(days=60))
        elif rng.random() < 0.14:
            p.start = _day(rng, WINDOW[0], WINDOW[1] - timedelta(days=45))
        else:
            p.start = _day(rng, date(2018, 1, 8), date(2024, 12, 16))
        p.contractor = not p.acquired and rng.random() < 0.06
        earliest_end = max(p.start + timedelta(days=120), date(2024, 6, 1))
        if rng.random() < 0.11 and earliest_end < WINDOW[1]:
            p.end = _day(rng, earliest_end, WINDOW[1])
            if p.end > WINDOW[1] - timedelta(days=10):
                p.end = None
            if p.acquired and p.end and p.end < ACQUIRED_ON + timedelta(days=60):
                p.end = None

    def _teams_of(self, p: _Person, n_teams: int) -> None:
        rng = self.rng
        first = max(p.start, WINDOW[0])
        last = min(p.end or WINDOW[1], WINDOW[1])
        team = rng.randrange(n_teams)
        cuts: list[date] = []
        if p.acquired:
            cuts.append(ACQUIRED_ON)
        r = rng.random()
        moves = 2 if r < 0.07 else 1 if r < 0.32 else 0
        if last > first + timedelta(days=60):
            cuts += [
                _day(rng, first + timedelta(days=30), last - timedelta(days=30))
                for _ in range(moves)
            ]
        cuts = sorted(set(c for c in cuts if first < c <= last))
        edges = [first, *cuts, last + timedelta(days=1)]
        for a, b in itertools.pairwise(edges):
            if p.acquired and a < ACQUIRED_ON:
                seg_team = -1  # an initech team, on GitLab
            else:
                seg_team = team
                team = (team + rng.randint(1, max(1, n_teams - 1))) % n_teams
            p.segments.append((seg_team, a, b - timedelta(days=1)))

    def _hard_people(self) -> None:
        """Force the person-level hard cases that chance alone would make too rare."""
        rng = self.rng
        persons = self.persons
        n = len(persons)
        # Two different people with the same full name (sometimes in the same team).
        pairs = min(10, n // 10)
        eligible = [i for i, p in enumerate(persons) if not p.acquired]
        slots = rng.sample(eligible, min(len(eligible), pairs * 2))
        for src_i, dst_i in zip(slots[::2], slots[1::2], strict=False):
            src, dst = persons[min(src_i, dst_i)], persons[max(src_i, dst_i)]
            dst.culture, dst.given, dst.family, dst.second = (
                src.culture,
                src.given,
                src.family,
                src.second,
            )
            dst.preferred, dst.goes_by, dst.hr_ascii = None, False, src.hr_ascii
            if src.culture.middles:
                dst.middle = src.middle
            else:
                dst.middle = rng.choice((None, rng.choice(_MIDDLE_INITIALS)))
            dst.clone_of, src.clone_of = src.key, dst.key
            if rng.random() < 0.4 and src.segments and dst.segments:
                team = src.segments[-1][0]
                dst.segments = [(team if t >= 0 else t, a, b) for t, a, b in dst.segments]
        # Surnames that changed (marriage, divorce): old accounts keep the old name.
        candidates = [
            p
            for p in persons
            if p.culture.renames
            and not p.acquired
            and p.clone_of is None
            and p.start < date(2025, 6, 1)
            and p.end is None
        ]
        women = [p for p in candidates if p.given.female]
        chosen = rng.sample(women, min(len(women), max(0, round(n * 0.024))))
        others = [p for p in candidates if all(p is not q for q in chosen)]
        chosen += rng.sample(others, min(len(others), max(0, round(n * 0.004))))
        for p in chosen:
            male, female = rng.choice(p.culture.families)
            new = female if p.given.female else male
            if new.latin == p.family.latin:
                continue
            p.old_family, p.family = p.family, new
            p.renamed_on = _day(
                rng, max(p.start + timedelta(days=200), date(2024, 9, 2)), date(2026, 3, 31)
            )
        # People who left and came back: a second HR record.
        stayers = [
            p
            for p in persons
            if p.start < date(2022, 1, 1)
            and p.end is None
            and p.old_family is None
            and not p.acquired
            and not p.contractor
        ]
        for p in rng.sample(stayers, min(len(stayers), max(0, round(n * 0.008)))):
            left = _day(rng, date(2023, 3, 1), date(2025, 2, 28))
            back = _day(rng, left + timedelta(days=90), left + timedelta(days=420))
            p.rejoin = (left, min(back, date(2026, 3, 2)))

    # -- emails and handles -----------------------------------------------------------------

    def _local(self, p: _Person, family: _Family, domain: str) -> str:
        """A work mailbox local part following the domain's convention, unique."""
        rng = self.rng
        given = p.preferred if p.preferred and p.goes_by and rng.random() < 0.3 else p.given.latin
        g = _slug(given.split(" ")[0])
        f = _slug(family.latin).replace("'", "")
        if domain == OLD_DOMAIN:
            options = [f"{g[0]}{f}", f"{g[:2]}{f}", f"{g[0]}{f}2", f"{g[0]}{f}3"]
        elif p.start < date(2018, 1, 1):
            options = [g, f"{g}.{f}", f"{g}.{f}2"]
        else:
            options = [f"{g}.{f}"]
            if p.middle and not p.culture.middles:
                options.append(f"{g}.{p.middle.lower()}.{f}")
            options += [f"{g}.{f}{k}" for k in range(2, 9)]
        for local in options:
            if self._claim(f"{local}@{domain}", p.key):
                return local
        raise AssertionError("no free mailbox")

    def _emails(self, p: _Person) -> None:
        rng = self.rng
        first_family = p.old_family or p.family
        if p.acquired:
            p.old_work = f"{self._local(p, first_family, OLD_DOMAIN)}@{OLD_DOMAIN}"
            p.old_work_until = ACQUIRED_ON
            p.work = f"{self._local(p, p.family, DOMAIN)}@{DOMAIN}"
        else:
            p.work = f"{self._local(p, first_family, DOMAIN)}@{DOMAIN}"
            if p.old_family and p.renamed_on and rng.random() < 0.85:
                p.old_work, p.old_work_until = p.work, p.renamed_on
                p.work = f"{self._local(p, p.family, DOMAIN)}@{DOMAIN}"
        p.caps = rng.random() < 0.08
        n_personal = rng.choices((0, 1, 2), (25, 60, 15))[0]
        for _ in range(n_personal):
            p.personal.append(self._personal(p))

    def _personal(self, p: _Person) -> str:
        rng = self.rng
        fam = p.old_family or p.family
        g, f = _slug(p.given.latin, ""), _slug(fam.latin, "")
        if p.preferred and rng.random() < 0.4:
            g = _slug(p.preferred, "")
        domains = _MAIL + p.culture.mail * 3
        for _ in range(50):
            style = rng.randrange(7)
            year = rng.randint(70, 99) if rng.random() < 0.6 else rng.randint(0, 5)
            local = (
                f"{g}.{f}",
                f"{g}{f}",
                f"{g[0]}{f}{year:02d}",
                f"{g}.{f}{year:02d}",
                f"{g}{rng.randint(1, 999)}",
                f"{rng.choice(_HANDLE_A)}{rng.choice(_HANDLE_B)}",
                f"{f}.{g}",
            )[style]
            email = f"{local}@{rng.choice(domains)}"
            if self._claim(email, p.key):
                return email
        raise AssertionError("no free personal mailbox")

    def _handle(self) -> str:
        rng = self.rng
        h = rng.choice(_HANDLE_A) + rng.choice(("", "-", "")) + rng.choice(_HANDLE_B)
        return h + (str(rng.randint(1, 99)) if rng.random() < 0.4 else "")

    def _login(self, p: _Person, family: _Family, provider: str) -> str:
        rng = self.rng
        use_pref = p.preferred is not None and p.goes_by and rng.random() < 0.5
        g = _slug((p.preferred if use_pref and p.preferred else p.given.latin).split(" ")[0], "")
        f = _slug(family.latin, "")
        for attempt in range(40):
            style = rng.choices(range(10), (18, 15, 14, 5, 10, 6, 15, 6, 6, 5))[0]
            if p.culture.key in ("zh", "ko", "vi") and rng.random() < 0.3:
                style = 7
            yy = rng.randint(80, 99) if rng.random() < 0.7 else rng.randint(0, 9)
            login = (
                f"{g[0]}{f}",
                f"{g}{f}",
                f"{g}-{f}",
                f"{g}-{f}-acme",
                f"{g}{f[0]}{yy:02d}",
                f"{g}{rng.randint(1, 999)}",
                self._handle(),
                f"{f}{g}{rng.choice(('', '88', '1'))}",
                f"{g[0]}{f}-acme",
                f"{g.capitalize()}{f.capitalize()}",
            )[style]
            if attempt > 20:
                login += str(rng.randint(2, 99))
            if login.lower() not in self.logins[provider]:
                self.logins[provider].add(login.lower())
                return login
        raise AssertionError("no free login")

    def _github_identity(self, p: _Person) -> None:
        rng = self.rng
        earliest = max(2008, min(p.start.year - rng.randint(0, 10), 2025))
        p.gh_year = rng.randint(earliest, max(earliest, min(p.start.year + 1, 2025)))
        p.gh_id = int(self._id("github", lambda: _github_id(rng, p.gh_year)))
        family = p.old_family or p.family
        p.gh_login = self._login(p, family, "github")
        if rng.random() < 0.05:
            p.gh_old_login, p.gh_login = p.gh_login, self._login(p, p.family, "github")

    # -- which tools each person has --------------------------------------------------------

    def _plan_tools(self, p: _Person) -> None:
        rng = self.rng
        coder = p.role in _CODERS
        engineer = p.role in ("engineer", "sre", "data")
        team = p.segments[-1][0] if p.segments else 0
        linear_team = team >= 0 and team % 10 in (3, 7, 8)  # teams that moved to Linear
        tools = p.tools
        if rng.random() < (0.08 if not coder else 0.86 if engineer else 0.45):
            tools.add("github")
        if engineer and rng.random() < (0.75 if p.acquired else 0.03):
            tools.add("gitlab")
        if linear_team:
            if rng.random() < 0.85:
                tools.add("linear")
            if rng.random() < 0.35:
                tools.add("jira")
        else:
            if rng.random() < 0.62:
                tools.add("jira")
            if rng.random() < 0.05:
                tools.add("linear")
        if rng.random() < 0.57:
            tools.add("slack")
        if engineer and rng.random() < 0.33:
            tools.add("pagerduty")
        if rng.random() < (0.3 if p.contractor else 0.54):
            tools.add("okta")
        if not p.contractor and rng.random() < 0.57:
            tools.add("bamboohr")
        if rng.random() < 0.22:
            tools.add("google_calendar")
        if ("github" in tools or "gitlab" in tools) and coder:
            p.n_git = rng.choices((1, 2, 3), (64, 27, 9))[0]
            if p.old_work or p.acquired:
                p.n_git = max(p.n_git, 2)
        if not tools:
            tools.add(rng.choice(("slack", "github", "jira", "okta")))
        # Nobody has more than 9 accounts: drop the extra commit identities, then tools.
        while self._count(p) > 9 and p.n_git > (2 if p.old_work else 1):
            p.n_git -= 1
        for drop in ("google_calendar", "pagerduty", "linear", "jira", "gitlab", "slack"):
            if self._count(p) <= 9:
                break
            tools.discard(drop)

    @staticmethod
    def _count(p: _Person) -> int:
        return len(p.tools) + p.n_git + (1 if p.rejoin and "bamboohr" in p.tools else 0)

    def _plan_shared_mailboxes(self) -> None:
        """A few people commit from a shared team address; some of those addresses are also
        verified on a teammate's GitHub account (so GitHub credits the teammate)."""
        rng = self.rng
        committers = [p for p in self.persons if p.n_git and p.end is None and self._count(p) < 9]
        k = min(len(committers), len(_SHARED_MAILBOXES), max(0, round(self.n / 90)))
        chosen = rng.sample(committers, k)
        for i, (name, p) in enumerate(zip(_SHARED_MAILBOXES, chosen, strict=False)):
            address = f"{name}@{DOMAIN}"
            p.shared_mailbox = address
            if i % 3 != 2:  # two in three
                team = p.segments[-1][0]
                mates = [
                    q
                    for q in self.persons
                    if q is not p
                    and "github" in q.tools
                    and q.segments
                    and q.segments[-1][0] == team
                    and q.shared_on_github is None
                ]
                others = [
                    q
                    for q in self.persons
                    if q is not p and "github" in q.tools and q.shared_on_github is None
                ]
                pool = mates or others
                if pool:
                    rng.choice(pool).shared_on_github = address

    # -- activity ---------------------------------------------------------------------------

    def _activity(self, p: _Person) -> None:
        rng = self.rng
        base = _CODERS.get(p.role, 0.0)
        if not base or not (p.n_git or "github" in p.tools or "gitlab" in p.tools):
            return
        rate = base * rng.uniform(0.4, 1.5)
        end = p.end or WINDOW[1]
        out: list[tuple[str, date]] = []
        for team, a, b in p.segments:
            days = _workdays(max(a, p.start), min(b, end))
            if p.rejoin:
                days = [d for d in days if not p.rejoin[0] <= d < p.rejoin[1]]
            picked = sorted(rng.sample(days, min(len(days), round(len(days) * rate))))
            repos = _INITECH_REPOS if team < 0 else self.team_repos[team]
            main = rng.choice(repos)
            all_repos = self.team_repos
            r = rng.random
            for d in picked:
                x = r()
                if team >= 0 and x < 0.12:
                    repo = _SHARED_REPOS[int(x / 0.12 * len(_SHARED_REPOS))]
                elif team >= 0 and x < 0.16:
                    other = all_repos[int(r() * len(all_repos))]
                    repo = other[int(r() * len(other))]
                elif x < 0.6:
                    repo = main
                else:
                    repo = repos[int(r() * len(repos))]
                out.append((repo, d))
        p.days = out

    # -- accounts ---------------------------------------------------------------------------

    def _accounts(self, p: _Person) -> None:
        rng = self.rng
        if p.typo_provider is None and rng.random() < 0.07:
            named = [t for t in p.tools if t not in ("okta",)] + (["git"] if p.n_git else [])
            if named:
                p.typo_provider = rng.choice(sorted(named))
        base = {"contractor"} if p.contractor else set()
        if "github" in p.tools:
            self._github(p, base)
        if "gitlab" in p.tools:
            self._gitlab(p, base)
        if p.n_git:
            self._git(p, base)
        builders = {
            "jira": self._jira,
            "linear": self._linear,
            "slack": self._slack,
            "pagerduty": self._pagerduty,
            "okta": self._okta,
            "bamboohr": self._bamboohr,
            "google_calendar": self._google_calendar,
        }
        for provider, build in builders.items():
            if provider in p.tools:
                build(p, base)

    def _render(
        self,
        p: _Person,
        provider: str,
        when: date,
        *,
        login: str | None = None,
        synced: bool = True,
        style: str | None = None,
    ) -> tuple[str | None, set[str]]:
        """A display name of `p` on `provider` and the tags it earns against the HR name.

        `synced` says whether the tool learns of a surname change after the account was
        made (SCIM from the IdP, or the person edited it)."""
        rng = self.rng
        if style is None:
            names, weights = zip(*_STYLES[provider], strict=True)
            style = rng.choices(names, weights)[0]
        tags: set[str] = set()
        fam = p.family_at(when if not synced else date.max)
        if fam is not p.family:
            tags.add("old_surname")
        if style == "none":
            return None, {"no_display_name"}
        if style == "handle":
            if login:
                return login, {"handle_only"}
            style = "common"
        if style == "native":
            if p.culture.script and p.given.native and fam.native:
                if p.culture.script in ("zh", "ko"):
                    name = fam.native + p.given.native
                elif p.culture.script == "ja":
                    name = fam.native + (" " if p.native_space else "") + p.given.native
                else:
                    name = f"{p.given.native} {fam.native}"
                return name, tags | {"transliteration"}
            style = "swap" if p.culture.middles else "common"
        given, family = p.given.latin, fam.latin
        if style == "variant":
            options = [("g", v) for v in p.given.variants] + [("f", v) for v in fam.variants]
            if options:
                part, value = rng.choice(options)
                given, family = (value, family) if part == "g" else (given, value)
                tags.add("transliteration")
            style = "common"
        if p.preferred and (style == "preferred" or (p.goes_by and style in _CASUAL)):
            given = p.preferred
            tags.add("nickname")
        formal = style in ("legal", "hr", "middle")
        if formal and p.goes_by and p.preferred and style != "hr" and rng.random() < 0.15:
            given = p.preferred
            tags.add("nickname")
        second = p.second.latin if p.second and (formal or rng.random() < 0.15) else None
        if p.second and second is None:
            tags.add("partial_surname")
        family_full = f"{family} {second}" if second else family
        middle = p.middle
        eastern = p.latin_eastern != (style == "swap") and style != "legal"
        if style == "hr":
            mid = ""
            if middle:
                mid = f" {middle}" if p.culture.middles else f" {middle}."
            name = f"{family_full}, {given}{mid}"
        elif style == "given":
            name = given
            tags.add("given_name_only")
        elif style == "initial":
            name = f"{given} {family[0]}."
        elif style == "middle" and middle:
            name = f"{given} {middle[0]}. {family_full}"
            tags.add("middle_initial")
        elif eastern and p.culture.eastern:
            mid = f" {middle}" if middle and p.culture.middles else ""
            name = f"{family_full}{mid} {given}"
            tags.add("name_order")  # family name first, where HR has "Last, First"
        else:
            name = f"{given} {family_full}"
        if style == "ascii" or (style in ("legal", "hr") and p.hr_ascii):
            name = _fold(name)
        legal = p.given.latin + p.family.latin
        if _fold(legal) != legal:
            hr_marks = not p.hr_ascii
            shown_marks = _fold(name) != name
            if hr_marks != shown_marks:
                tags.add("transliteration")
        if style == "lower":
            name = name.lower()
            tags.add("lowercase")
        if style == "pronouns":
            name += (
                " (she/her)"
                if p.given.female
                else rng.choice((" (he/him)", " (he/him)", " (they/them)"))
            )
            tags.add("decorated_name")
        if p.typo_provider == provider and style not in ("given",):
            typoed = _typo(rng, name)
            if typoed != name:
                name = typoed
                tags.add("typo")
                p.typo_provider = ""
        return name, tags

    def _github(self, p: _Person, base: set[str]) -> None:
        rng = self.rng
        assert p.gh_id is not None
        assert p.gh_login is not None
        tags = set(base)
        name, t = self._render(
            p, "github", date(2020, 1, 1), login=p.gh_login, synced=rng.random() < 0.5
        )
        tags |= t
        emails: tuple[str, ...] = ()
        r = rng.random()
        if p.shared_on_github:
            emails = (p.shared_on_github,)
            tags.add("shared_mailbox")
        elif r < 0.27 and p.personal:
            emails = (p.personal[0],)
        elif r < 0.4:
            emails = (p.stated(p.work_at(date(2024, 1, 1))),)
        sso = None
        if "okta" in p.tools and rng.random() < 0.9:
            sso = self._okta_id(p)
        elif "okta" not in p.tools and not p.contractor and rng.random() < 0.35:
            sso = self._okta_id(p)  # linked to an Okta user that is not in the export
            tags.add("dangling_sso")
        if p.gh_old_login:
            tags.add("renamed_login")
        tags |= self._domain_tags(emails)
        end = p.end or WINDOW[1]
        own = [x for x in p.days if x[0].startswith("acme/")]
        activity = set(own)
        rand = rng.random
        for repo, d in own:  # reviews on the days after a teammate's push
            if rand() < 0.3:
                later = d + timedelta(days=1 + int(rand() * 3))
                if later.weekday() < 5 and later <= end:
                    activity.add((repo, later))
        self._add(
            Account(
                "github",
                str(p.gh_id),
                p.gh_login,
                name,
                emails,
                False,
                sso,
                None,
                tuple(sorted(activity)),
                p.key,
            ),
            tags,
        )

    def _gitlab(self, p: _Person, base: set[str]) -> None:
        rng = self.rng
        same = p.gh_login if p.gh_login and rng.random() < 0.5 else None
        if same is None or same.lower() in self.logins["gitlab"]:
            login = self._login(p, p.old_family or p.family, "gitlab")
        else:
            login = same
            self.logins["gitlab"].add(same.lower())
        gid = self._id("gitlab", lambda: rng.randint(200_000, 21_000_000))
        name, tags = self._render(p, "gitlab", date(2022, 1, 1), login=login, synced=False)
        tags |= base
        emails: tuple[str, ...] = ()
        if rng.random() < 0.3:
            emails = (p.old_work or p.work,)
        activity = tuple(sorted(x for x in p.days if not x[0].startswith("acme/")))
        if not p.acquired:
            activity = tuple(sorted(("acme-infra/ops", d) for _, d in p.days[::9]))
        self._add(
            Account("gitlab", gid, login, name, emails, False, None, None, activity, p.key),
            tags | ({"old_domain"} if any(OLD_DOMAIN in e for e in emails) else set()),
        )

    def _git(self, p: _Person, base: set[str]) -> None:
        """1-3 commit identities (emails) of `p`, each with the days it authored commits."""
        rng = self.rng
        first = max(p.start, WINDOW[0])
        last = min(p.end or WINDOW[1], WINDOW[1])
        ids: list[_Identity] = []
        if p.old_work and p.old_work_until:
            ids.append(_Identity("old_work", p.stated(p.old_work), until=p.old_work_until))
            ids.append(_Identity("work", p.stated(p.work), since=p.old_work_until))
        unused = list(p.personal)
        while len(ids) < p.n_git:
            kinds = {i.kind for i in ids}
            weights = {
                "work": 0 if "work" in kinds else 40 if ids else 70,
                "personal": 0 if not unused else 30 if ids else 14,
                "noreply": 0
                if "noreply" in kinds or "github" not in p.tools
                else 30
                if ids
                else 16,
                "laptop": 0 if "laptop" in kinds or not ids else 25,
            }
            if not any(weights.values()):
                break
            kind = rng.choices(list(weights), list(weights.values()))[0]
            if kind == "work":
                ids.append(_Identity("work", p.stated(p.work)))
            elif kind == "personal":
                email = self._stated_personal(unused.pop(rng.randrange(len(unused))))
                ids.append(_Identity("personal", email, weight=rng.uniform(0.1, 0.6)))
            elif kind == "noreply":
                weight = rng.uniform(0.1, 0.5)
                ids.append(
                    _Identity(
                        "noreply", self._noreply(p), weight=weight, tags=frozenset({"noreply"})
                    )
                )
                if p.gh_old_login and len(ids) < p.n_git:  # commits from before the rename
                    old = self._noreply(p, p.gh_old_login)
                    renamed = frozenset({"noreply", "renamed_login"})
                    ids.append(_Identity("noreply", old, until=date(2025, 4, 1), tags=renamed))
            else:  # a new laptop, before its owner set user.email
                a = _day(rng, first, max(first, last - timedelta(days=30)))
                b = a + timedelta(days=rng.randint(3, 40))
                email = self._laptop(p)
                ids.append(_Identity("laptop", email, a, b, 3.0, frozenset({"laptop_email"})))
        if p.shared_mailbox:
            a = _day(rng, first, max(first, last - timedelta(days=20)))
            b = a + timedelta(days=rng.randint(5, 60))
            ids.append(
                _Identity("shared", p.shared_mailbox, a, b, 2.0, frozenset({"shared_mailbox"}))
            )
        authored: dict[int, list[tuple[str, date]]] = defaultdict(list)
        r = rng.random
        alone = len(ids) == 1 and ids[0].since == date.min and ids[0].until == date.max
        for repo, d in p.days:
            if r() >= 0.72:
                continue
            if alone:
                authored[0].append((repo, d))
                continue
            live = [(n, i.weight) for n, i in enumerate(ids) if i.since <= d < i.until]
            if not live:
                continue
            pick = r() * sum(w for _, w in live)
            chosen = live[-1][0]
            for n, w in live:
                pick -= w
                if pick < 0:
                    chosen = n
                    break
            authored[chosen].append((repo, d))
        for n, ident in enumerate(ids):
            key = ident.email.lower()
            if key in self.ids["git"]:
                continue
            days = authored.get(n, [])
            if not days:
                usable = [x for x in p.days if ident.since <= x[1] < ident.until]
                if ident.kind == "shared":
                    usable = usable or p.days
                if usable:
                    days = rng.sample(usable, min(len(usable), rng.randint(1, 4)))
                elif ident.kind == "laptop" and p.days:
                    continue  # never used: no such identity
            self.ids["git"].add(key)
            # user.name as it was on the last day this identity was in use
            when = min(max(WINDOW[1], ident.since), ident.until - timedelta(days=1))
            if ident.kind == "shared" and rng.random() < 0.35:
                team = p.segments[-1][0]
                area = self.team_repos[team][0].split("/")[1].split("-")[0] if team >= 0 else "dev"
                name: str | None = rng.choice((f"{area.capitalize()} Team", "dev", "Acme Dev"))
                tags: set[str] = set()
            else:
                login = p.gh_login if p.gh_login and rng.random() < 0.5 else _unix(p)
                style = None
                if ident.kind == "laptop":
                    style = rng.choice(("common", "handle", "given", "lower"))
                name, tags = self._render(p, "git", when, login=login, synced=False, style=style)
            tags |= base | ident.tags
            if ident.email != key:
                tags.add("email_case")
            if key.endswith("@" + OLD_DOMAIN):
                tags.add("old_domain")
            activity = tuple(sorted(set(days)))
            account = Account("git", key, None, name, (ident.email,), False, None, None, activity,
                              p.key)  # fmt: skip
            self._add(account, tags)

    def _stated_personal(self, email: str) -> str:
        """A personal address the way one tool was given it: gmail dots, +tags, capitals."""
        rng = self.rng
        local, _, domain = email.partition("@")
        r = rng.random()
        if domain == "gmail.com" and r < 0.2 and "." in local:
            local = local.replace(".", "")
        elif domain in ("gmail.com", "proton.me", "fastmail.com", "outlook.com") and r < 0.35:
            local += "+" + rng.choice(("github", "git", "dev", "oss", "code"))
        elif r < 0.42:
            local = ".".join(s.capitalize() for s in local.split("."))
        return f"{local}@{domain}"

    def _noreply(self, p: _Person, login: str | None = None) -> str:
        login = login or p.gh_login
        if p.gh_year < NOREPLY_ID_SINCE and self.rng.random() < 0.6:
            return f"{login}@{NOREPLY}"
        return f"{p.gh_id}+{login}@{NOREPLY}"

    def _laptop(self, p: _Person) -> str:
        rng = self.rng
        user = rng.choice(
            (
                _slug(p.given.latin, "")[:8],
                _slug(p.given.latin, "")[:1] + _slug(p.family.latin, "")[:7],
            )
        )
        owner = _fold(p.given.latin.split(" ")[0]).replace("-", "")
        host = rng.choice(
            (
                f"{owner}s-{rng.choice(_LAPTOPS)}.local",
                f"{owner}s-{rng.choice(_LAPTOPS)}-{rng.randint(2, 4)}.local",
                f"{user}-ThinkPad-X1-Carbon",
                f"{user}-laptop.localdomain",
                f"{rng.choice(_LAPTOPS)}.local",
            )
        )
        for k in range(2, 30):
            email = f"{user}@{host}"
            if email.lower() not in self.ids["git"] and self._claim(email, p.key):
                return email
            host = f"{host.split('.')[0]}-{k}.local"
        raise AssertionError("no free laptop address")

    def _jira(self, p: _Person, base: set[str]) -> None:
        rng = self.rng
        created = max(p.start, date(2018, 1, 1))
        if p.acquired and rng.random() < 0.4:  # migrated from initech's Jira
            created = max(p.start, date(2021, 1, 1))
        elif p.acquired:
            created = ACQUIRED_ON
        aid = self._id("jira", lambda: _jira_id(rng, created))
        name, tags = self._render(p, "jira", created, synced=rng.random() < 0.7)
        emails: tuple[str, ...] = ()
        if rng.random() < 0.35:
            emails = (p.stated(p.work_at(created if rng.random() < 0.5 else date.max)),)
        tags |= base | self._domain_tags(emails)
        self._add(Account("jira", aid, None, name, emails, False, None, None, (), p.key), tags)

    def _linear(self, p: _Person, base: set[str]) -> None:
        rng = self.rng
        created = max(p.start, date(2023, 9, 1) if not p.acquired else ACQUIRED_ON)
        uid = self._id("linear", lambda: _uuid(rng))
        g = _slug((p.preferred if p.goes_by and p.preferred else p.given.latin).split(" ")[0], "")
        f = _slug(p.family_at(created).latin, "")
        handle = rng.choice((g, f"{g}.{f}", f"{g}{f[0]}", p.work_at(created).split("@")[0]))
        while handle in self.logins["linear"]:
            handle += str(rng.randint(1, 9))
        self.logins["linear"].add(handle)
        name, tags = self._render(p, "linear", created, login=handle, synced=rng.random() < 0.5)
        emails: tuple[str, ...] = ()
        if rng.random() < 0.9:
            emails = (p.stated(p.work_at(created)),)
        elif p.personal:
            emails = (p.personal[0],)
        tags |= base | self._domain_tags(emails)
        self._add(Account("linear", uid, handle, name, emails, False, None, None, (), p.key), tags)

    def _slack(self, p: _Person, base: set[str]) -> None:
        rng = self.rng
        created = max(p.start, ACQUIRED_ON if p.acquired else date(2016, 1, 1))
        sid = self._id("slack", lambda: _slack_id(rng))
        login = p.work_at(created).split("@")[0]
        if login in self.logins["slack"]:
            login = login + str(rng.randint(2, 99))
        self.logins["slack"].add(login)
        name, tags = self._render(p, "slack", created, login=login, synced=True)
        emails: tuple[str, ...] = ()
        if p.contractor and rng.random() < 0.5 and p.personal:
            emails = (p.personal[0],)  # a guest invited at a personal address
        elif rng.random() < 0.9:
            emails = (p.stated(p.work),)
        tags |= base
        self._add(Account("slack", sid, login, name, emails, False, None, None, (), p.key), tags)

    def _pagerduty(self, p: _Person, base: set[str]) -> None:
        rng = self.rng
        created = max(p.start, date(2019, 1, 1))
        pid = self._id("pagerduty", lambda: "P" + _chars(rng, 6, _UPPER))
        name, tags = self._render(p, "pagerduty", created, synced=rng.random() < 0.4)
        personal = p.personal and rng.random() < 0.08
        emails = (p.personal[0],) if personal else (p.stated(p.work_at(created)),)
        tags |= base | self._domain_tags(emails)
        self._add(Account("pagerduty", pid, None, name, emails, False, None, None, (), p.key), tags)

    def _okta_id(self, p: _Person) -> str:
        if p.okta_id is None:
            rng = self.rng
            p.okta_id = self._id("okta", lambda: "00u" + _chars(rng, 17, _ALNUM))
        return p.okta_id

    def _employee_numbers(self, p: _Person) -> tuple[str, ...]:
        """HR employee numbers, in hire order (two for someone who left and came back)."""
        base = 1000 + (p.start - date(2016, 1, 1)).days // 3
        numbers = [str(base)]
        if p.rejoin:
            numbers.append(str(3000 + (p.rejoin[1] - date(2016, 1, 1)).days // 3))
        out = []
        for n in numbers:
            value = n
            while value in self.ids["employee_number"]:
                value = str(int(value) + 1)
            self.ids["employee_number"].add(value)
            out.append(value)
        return tuple(out)

    def _numbers(self, p: _Person) -> tuple[str, ...]:
        if p.numbers is None:
            p.numbers = self._employee_numbers(p)
        return p.numbers

    def _okta(self, p: _Person, base: set[str]) -> None:
        rng = self.rng
        oid = self._okta_id(p)
        created = max(p.start, ACQUIRED_ON if p.acquired else date(2019, 6, 1))
        login_email = p.work
        if p.old_work and not p.acquired and rng.random() < 0.4:
            login_email = p.old_work  # the Okta login was never changed after the new surname
        name, tags = self._render(p, "okta", created, synced=True)
        emails: tuple[str, ...] = (p.stated(p.work),)
        if p.personal and rng.random() < 0.15:
            emails += (p.personal[0],)  # profile.secondEmail
        employee = None
        if not p.contractor and rng.random() < 0.87:
            employee = self._numbers(p)[-1]
            if rng.random() < 0.05:
                employee = employee.zfill(6)
                tags.add("employee_id_format")
        tags |= base | self._domain_tags((login_email,))
        self._add(
            Account(
                "okta", oid, p.stated(login_email), name, emails, False, oid, employee, (), p.key
            ),
            tags,
        )

    def _bamboohr(self, p: _Person, base: set[str]) -> None:
        rng = self.rng
        numbers = self._numbers(p)
        for i, number in enumerate(numbers):
            old = i < len(numbers) - 1
            name, tags = self._render(p, "bamboohr", p.start, synced=True)
            emails: tuple[str, ...] = (p.stated(p.work),)
            if old and p.old_work:
                emails = (p.stated(p.old_work),)
            if p.personal and rng.random() < 0.2:
                emails += (p.personal[-1],)  # homeEmail
            tags |= base
            self._add(
                Account("bamboohr", number, None, name, emails, False, None, number, (), p.key),
                tags,
            )

    def _google_calendar(self, p: _Person, base: set[str]) -> None:
        email = p.work
        if email in self.ids["google_calendar"]:
            return
        self.ids["google_calendar"].add(email)
        name, tags = self._render(p, "google_calendar", WINDOW[1], synced=True)
        self._add(
            Account("google_calendar", email, None, name, (email,), False, None, None, (), p.key),
            tags | base,
        )

    @staticmethod
    def _domain_tags(emails: Sequence[str]) -> set[str]:
        return (
            {"old_domain"} if any(e.lower().endswith("@" + OLD_DOMAIN) for e in emails) else set()
        )

    # -- bots -------------------------------------------------------------------------------

    def _bots(self) -> None:
        rng = self.rng
        acme = sorted({r for team in self.team_repos for r in team} | set(_SHARED_REPOS))

        def days(share: float, rate: float, pool: Sequence[str]) -> list[tuple[str, date]]:
            out = set()
            for repo in rng.sample(pool, max(1, round(len(pool) * share))):
                for d in rng.sample(_WORKDAYS, max(1, round(len(_WORKDAYS) * rate))):
                    out.add((repo, d))
            return sorted(out)

        def add(
            truth: str,
            provider: str,
            xid: str,
            login: str | None,
            name: str | None,
            email: str,
            is_bot: bool,
            activity: Sequence[tuple[str, date]],
            lookalike: bool = False,
        ) -> None:
            self.ids[provider].add(xid)
            tags = {"bot", "bot_lookalike"} if lookalike else {"bot"}
            if provider == "git" and NOREPLY in xid:
                tags.add("noreply")
            sso = xid if provider == "okta" else None
            emails = (email,) if email else ()
            account = Account(
                provider,
                xid,
                login,
                name,
                emails,
                is_bot,
                sso,
                None,
                tuple(activity),
                f"bot:{truth}",
            )
            self._add(account, tags)

        for slug, number, share, rate, commits in _APPS:
            app = f"{slug}[bot]"
            activity = days(share, rate, acme)
            add(slug, "github", str(number), app, None, "", True, activity)
            if commits:
                email = f"{number}+{app}@{NOREPLY}"
                authored = [x for x in activity if rng.random() < 0.6]
                add(slug, "git", email, None, app, email, True, authored)
        draw: dict[str, Callable[[], object]] = {
            "github": lambda: _github_id(rng, rng.randint(2016, 2022)),
            "gitlab": lambda: rng.randint(21_000_000, 22_000_000),
            "jira": lambda: _jira_id(rng, _day(rng, date(2018, 1, 1), date(2022, 12, 31))),
            "linear": lambda: _uuid(rng),
            "slack": lambda: _slack_id(rng),
            "okta": lambda: "00u" + _chars(rng, 17, _ALNUM),
            "pagerduty": lambda: "P" + _chars(rng, 6, _UPPER),
        }
        for truth, provider, xid, login, name, email, is_bot, share, rate, human in _MACHINES:
            if not xid:
                xid = self._id(provider, draw[provider])
            pool = _INITECH_REPOS if provider == "gitlab" else acme
            activity = days(share, rate, pool) if share else []
            add(truth, provider, xid, login, name, email, is_bot, activity, human)

    # -- tags that follow from the whole population -----------------------------------------

    def _person_tags(self) -> None:
        by_truth: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for a in self.accounts:
            by_truth[a.truth].append((a.provider, a.external_id))
        given = Counter(_fold(p.given.latin).lower() for p in self.persons)
        full = Counter(
            (_fold(p.given.latin).lower(), _fold(p.family.latin).lower()) for p in self.persons
        )
        personal = {p.key: {e.lower() for e in p.personal} for p in self.persons}
        for p in self.persons:
            keys = by_truth.get(p.key, [])
            person_tags = set()
            if given[_fold(p.given.latin).lower()] > 1:
                person_tags.add("shared_first_name")
            if full[(_fold(p.given.latin).lower(), _fold(p.family.latin).lower())] > 1:
                person_tags.add("same_full_name")
            if p.old_family:
                person_tags.add("changed_surname")
            if p.rejoin:
                person_tags.add("left_and_rejoined")
            for key in keys:
                tags = self.tags[key]
                tags |= person_tags
        for a in self.accounts:
            if a.truth.startswith("bot:"):
                continue
            tags = self.tags[(a.provider, a.external_id)]
            if not a.emails:
                tags.add("hidden_email")
            lowered = {_personal_box(e) for e in a.emails}
            if lowered & {_personal_box(e) for e in personal[a.truth]}:
                tags.add("personal_and_work_email")


def _unix(p: _Person) -> str:
    """The user name someone picks for their own laptop ('jdoe')."""
    return (_slug(p.given.latin, "")[:1] + _slug(p.family.latin, ""))[:8]


def _personal_box(email: str) -> str:
    local, _, domain = email.lower().partition("@")
    local = local.partition("+")[0]
    if domain == "gmail.com":
        local = local.replace(".", "")
    return f"{local}@{domain}"


# -- vendor ids -----------------------------------------------------------------------------

_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
# Roughly the first GitHub user id of each year.
_GITHUB_IDS = {
    2008: 1, 2009: 30_000, 2010: 150_000, 2011: 500_000, 2012: 1_300_000, 2013: 3_100_000,
    2014: 6_300_000, 2015: 10_300_000, 2016: 16_300_000, 2017: 24_900_000, 2018: 35_000_000,
    2019: 46_000_000, 2020: 59_000_000, 2021: 76_000_000, 2022: 96_000_000,
    2023: 121_000_000, 2024: 155_000_000, 2025: 190_000_000, 2026: 230_000_000,
}  # fmt: skip


def _chars(rng: random.Random, n: int, alphabet: str) -> str:
    return "".join(rng.choices(alphabet, k=n))


def _github_id(rng: random.Random, year: int) -> int:
    year = min(max(year, 2008), 2025)
    return rng.randrange(_GITHUB_IDS[year], _GITHUB_IDS[year + 1])


def _jira_id(rng: random.Random, created: date) -> str:
    """An Atlassian accountId: older ones are Mongo ObjectIds (creation time first)."""
    if created >= date(2023, 1, 1) and rng.random() < 0.7:
        return "712020:" + _uuid(rng)
    seconds = (created - date(1970, 1, 1)).days * 86400 + rng.randrange(86400)
    return f"{seconds:08x}{rng.getrandbits(64):016x}"


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[rng.randrange(4)]}{h[17:20]}-{h[20:]}"


def _slack_id(rng: random.Random) -> str:
    return "U0" + _chars(rng, rng.choice((8, 9)), _UPPER)
