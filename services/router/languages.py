"""Compliance words and texts per language: the data `compliance.py` reads.

English follows the CTIA Messaging Principles and Best Practices (STOP, STOPALL, UNSUBSCRIBE,
CANCEL, END, QUIT; HELP and INFO; START and UNSTOP) and the FCC's words that revoke consent per se
when sent in reply to a text (47 CFR 64.1200(a)(10): stop, quit, end, revoke, opt out, cancel,
unsubscribe). Spanish, on for every program, has the twins US Spanish-speaking subscribers use:
PARAR, ALTO, CANCELAR, BAJA, DETENER, "no más mensajes"; AYUDA; COMENZAR.

Words and patterns are written as people spell them; compliance folds both the same way it folds
a reply (case, accents, repeated letters squeezed: "stooop" and "stop" are one word), so a pattern
never needs to spell "mesages". Patterns are regular expressions over the words of one clause,
separated by single spaces.

- `opt_out`, `opt_out_all`, `help`, `opt_in`, `yes`, `refusals`, `unclear`: a whole clause that is
  one of these (politeness and emphasis aside, repeats allowed: "stop stop", "STOP 🛑") means it.
- `revocations`: patterns that opt out wherever they appear ("don't text me", "wrong number").
- `guarded`: patterns that opt out unless a negation comes just before ("don't stop sending").
- `unclear_scope`: patterns that make a clause unclear and keep it from opting out
  ("unsubscribe from emails", "stop for a week"); `unclear_anywhere`: patterns that ask.
- `mandatory`: words no program can lose (STOP, HELP, START and their Spanish twins).
"""

from __future__ import annotations

from dataclasses import dataclass, field

BUILT_IN = ("en", "es")


@dataclass(frozen=True)
class Texts:
    """A program's compliance texts in one language. `{brand}` is the tenant's brand."""

    help: str
    opt_out: str
    opt_out_all: str  # everything stopped (STOPALL, the FCC's revoke-all); `{kept}` names what stays
    opt_in: str  # subscribed again (START)
    confirm_request: str  # double opt-in: asks for the Y
    confirmed: str  # double opt-in confirmed
    clarify: str  # an unclear text: asked once whether they want to stop
    kept: str  # appended to opt_out_all when some programs stay: "{programs}"


@dataclass(frozen=True)
class Language:
    code: str
    opt_out: tuple[str, ...]
    opt_out_all: tuple[str, ...]
    help: tuple[str, ...]
    opt_in: tuple[str, ...]
    yes: tuple[str, ...]  # back in only when the number opted out
    refusals: tuple[str, ...]
    unclear: tuple[str, ...]
    revocations: tuple[str, ...]
    guarded: tuple[str, ...]
    unclear_scope: tuple[str, ...]
    unclear_anywhere: tuple[str, ...]
    negations: tuple[str, ...]
    mandatory: dict[str, tuple[str, ...]]
    texts: Texts
    macros: dict[str, str] = field(default_factory=dict)


# Said around a keyword without changing it ("stop please", "ok stop", "I said STOP").
POLITENESS = frozenset({
    "please", "pls", "plz", "plez", "pleas", "pleaz", "thanks", "thank", "you", "u", "thx", "ty",
    "tnx", "thnx", "now", "asap", "kindly", "ok", "okay", "k", "kk", "sorry", "hi", "hey", "hello",
    "yo", "me", "it", "i", "said", "omg", "lol", "lmao", "haha", "dude", "bro", "man", "guys",
    "sir", "maam", "again", "right", "immediately", "por", "favor", "porfavor", "porfa", "gracias",
    "hola", "oye", "ahora",
})
# Emphasis removed before any pattern is read ("stop the damn texts" = "stop the texts").
EMPHASIS = frozenset({
    "cussing", "damn", "damnit", "dammit", "goddamn", "freaking", "frickin", "fricking", "friggin",
    "effing", "bloody", "really", "just", "seriously", "srsly", "literally", "already", "so",
})
# Profanity as people type it, folded to two words the patterns use.
PROFANITY = {
    **dict.fromkeys(("fuck", "fuk", "fck", "fk", "fuq", "fucc", "phuck", "fook", "feck", "shit",
                     "screw"), "cuss"),
    **dict.fromkeys(("fucking", "fuckin", "fking", "fcking", "fkn", "fkin", "fuking", "fukin",
                     "shitty"), "cussing"),
}
# Emoji that say something to compliance; any other emoji is decoration.
EMOJI = frozenset("🛑🔕📵🖕⛔🚫✋")

_EN_MACROS = {
    "ME": r"(?:me|us|this number|my number|my phone number|my phone|this phone|my cell|this #|my #)",
    "MSGS": r"(?:texts?|txts?|txs|text messages?|messages?|msgs?|sms|notifications?|alerts?|"
            r"promos?|promotions?|marketing|spam|ads|advertisements?|junk|crap|stuff)",
    # one word at a time, so that no text can be read two ways (no backtracking blow-up)
    "DET": r"(?:(?:these|the|this|your|ur|all|any|anymore|my|them|those|such|more|further|of)"
           r"(?: |$))*",
    "SENDING": r"(?:texting|txting|texing|textin|txtin|messaging|msging|messagin|sending|sendin|"
               r"contacting|spamming|bothering|harassing|hitting me up|blowing up my phone|"
               r"getting|receiving|recieving)",
    "LIST": r"(?:list|lists|text list|texting list|mailing list|sms list|contact list|contacts|"
            r"database|system|program|text club|subscription|subscriptions|texts|this)",
}

ENGLISH = Language(
    code="en",
    opt_out=("stop", "unsubscribe", "cancel", "end", "quit", "revoke", "optout", "opt out",
             "remove", "arret", "stp", "stahp", "stawp", "unsub", "cease", "desist",
             "cease and desist", "halt", "🛑", "🔕", "📵"),
    opt_out_all=("stopall", "stop all", "unsubscribe all", "cancel all", "end all", "quit all",
                 "stop everything", "unsubscribe everything"),
    help=("help", "info", "information"),
    opt_in=("start", "unstop", "resubscribe"),
    yes=("yes", "y", "yeah", "yep", "yup", "yes please", "ya", "yea", "yas"),
    refusals=("go away", "get lost", "leave me alone", "piss off", "cuss off", "f off", "eff off",
              "screw off", "buzz off", "sod off", "bugger off", "cuss you", "f you", "stfu",
              "gtfo", "🖕", "spam", "this is spam", "thats spam", "its spam", "blocked",
              "blocking you", "reported", "reported as spam"),
    unclear=("enough", "thats enough", "that is enough", "done", "im done", "i am done",
             "im done with this", "im done with these", "done with this", "not interested",
             "im not interested", "no more", "please no", "no please", "the end", "pause",
             "⛔", "🚫", "✋", "what does stop do", "how do i stop", "how do i cancel",
             "can i cancel", "can i cancel anytime", "how can i cancel", "how to cancel"),
    revocations=(
        r"leave (?:me|us) alone",
        r"(?:dont|do not|never|pls dont|please dont|stop|quit) (?:ever )?(?:text|txt|message|msg|"
        r"contact|spam|bother|sms) (?:ME|again|anymore|any more)",
        r"(?:dont|do not|never) (?:send|sent) (?:ME )?(?:you )?(?:DET)MSGS",
        r"(?:dont|do not|no longer|never) (?:want|wish|need|like) (?:to (?:get|receive|recieve|"
        r"be getting|keep getting|see|be sent) )?(?:DET)MSGS",
        r"no (?:more|further|longer) MSGS",
        r"(?:lose|delete|forget|erase) (?:my|this) (?:number|phone number|#|info|information|cell)",
        r"wrong (?:number|#|person|phone|numb|guy|girl|contact)(?! of)",
        r"(?:never|didnt|did not) (?:ever )?(?:signed up|sign up|subscribed|subscribe|opted in|"
        r"opt in|opted|agreed to|agree to|registered|asked for (?:this|these|that|it|(?:DET)MSGS))",
        r"(?:this is|thats|that is|its|it is) spam",
        r"(?:reported|reporting|report) (?:you|u|this number|this as spam|as spam|"
        r"(?:you|u|this number) to (?:the )?fcc)",
        r"(?:cuss|screw|piss|bugger|sod|buzz|f|eff) off",
        r"go (?:cuss|f|screw) (?:yourself|urself|yourselves|off|you)",
        r"cuss (?:you|u|yourself|urself|your texts|these texts)",
        r"stfu|gtfo",
    ),
    guarded=(
        r"(?:stop|quit|cease|end|no more) SENDING",
        r"(?:stop|quit|end|cancel|unsubscribe|opt out of|opt me out of|remove me from|"
        r"take me off) (?:DET)MSGS",
        r"unsubscribe|unsubscrib|unsub|opt out|optout|opt me out|opt us out|unenroll|unenrol|"
        r"deregister",
        r"(?:remove|take|delete|erase|drop|get|scratch|cross) ME (?:off|from|out of)",
        r"(?:remove|delete|erase) ME$",
        r"take ME (?:off|out)",
        r"(?:stop|end|cancel|quit) (?:DET)(?:subscription|text subscription|sms subscription|"
        r"membership)",
        r"(?:i )?want (?:to get )?out(?: of (?:DET)LIST)?$",
        r"(?:get|take) (?:ME )?(?:off|out of) (?:DET)LIST",
        r"(?:stop|end|quit) (?:DET)(?:this|them)$",
    ),
    unclear_scope=(
        r"unsubscribe from (?:emails?|e mails?|mail|newsletters?|the newsletter)(?! and)",
        r"stop (?:for|until) (?:a|one|1|two|2|the|now|today|tomorrow|tonight|this|next)",
        r"pause (?:DET)(?:MSGS)?",
    ),
    unclear_anywhere=(
        r"(?:too|so) (?:many|much) (?:MSGS|texting)",
        r"(?:text|texting|message|messaging) (?:ME )?(?:too|so) much",
        r"why (?:are|do|r|does|is) (?:you|u|this number|it) (?:keep |still |always )?(?:texting|"
        r"messaging|contacting|txting|sending|keep)",
        r"how (?:did|do) (?:you|u|yall) (?:get|have|find) (?:my|this) (?:number|#|info|phone)",
        r"who gave (?:you|u) (?:my|this) (?:number|#|info)",
        r"is this spam",
        r"(?:dont|do not|cant|cannot) remember (?:signing|subscribing|opting|agreeing|joining)",
    ),
    negations=("dont", "do not", "never", "cant", "cannot", "can not", "wont", "will not",
               "didnt", "did not", "shouldnt", "wouldnt", "not", "please dont", "pls dont"),
    mandatory={"opt_out": ("stop", "unsubscribe", "cancel", "end", "quit", "revoke", "opt out"),
               "opt_out_all": ("stopall",), "help": ("help", "info"), "opt_in": ("start", "unstop")},
    texts=Texts(
        help="{brand}: recurring automated marketing texts. Msg frequency varies. Msg & data rates "
             "may apply. Reply HELP for help, STOP to opt out.",
        opt_out="{brand}: You are unsubscribed and will receive no more messages. Reply START to "
                "resubscribe.",
        opt_out_all="{brand}: You are unsubscribed from all {brand} texts{kept} and will receive "
                    "no more messages. Reply START to resubscribe.",
        opt_in="{brand}: You are subscribed again. Msg frequency varies. Msg & data rates may "
               "apply. Reply HELP for help, STOP to opt out.",
        confirm_request="Reply Y to get recurring automated marketing texts from {brand}. Msg "
                        "frequency varies. Msg & data rates may apply. Reply HELP for help, STOP "
                        "to cancel.",
        confirmed="{brand}: You're subscribed! Msg frequency varies. Msg & data rates may apply. "
                  "Reply HELP for help, STOP to cancel.",
        clarify="{brand}: Do you want to stop getting our texts? Reply STOP to unsubscribe, or "
                "HELP for help.",
        kept=" except {programs}",
    ),
    macros=_EN_MACROS,
)

_ES_MACROS = {
    "MSJS": r"(?:mensajes|mensaje|textos|texto|msjs|msj|sms|promociones|ofertas|spam|nada)",
    "SEND": r"(?:manden|envien|mandes|envies|escriban|escribas|mande|envie)",
    "MSJS_ONLY": r"(?:mensajes|mensaje|textos|texto|msjs|msj|sms|promociones|ofertas|spam)",
}

SPANISH = Language(
    code="es",
    opt_out=("parar", "alto", "cancelar", "baja", "detener", "deten", "detente", "paren",
             "para ya", "fin", "no mas mensajes", "no mas textos", "no mas sms", "dar de baja",
             "darme de baja", "desuscribir", "desuscribirme", "cancelar suscripcion", "salir"),
    opt_out_all=("parar todo", "cancelar todo", "baja de todo", "alto todo"),
    help=("ayuda", "ayudame", "informacion"),
    opt_in=("comenzar", "iniciar", "reanudar"),
    yes=("si", "si por favor", "claro", "dale"),
    refusals=("dejenme en paz", "dejame en paz", "no molesten", "no me molesten", "largate",
              "numero equivocado"),
    unclear=("basta", "ya basta", "para", "no mas", "ya no", "no gracias ya no", "no me interesa",
             "suficiente"),
    revocations=(
        r"no (?:me |nos )?SEND (?:mas )?MSJS",
        r"ya no (?:me |nos )?SEND",
        r"no (?:quiero|deseo|necesito) (?:(?:recibir|mas|seguir recibiendo|sus|estos|ningun|"
        r"ningunos) )*MSJS_ONLY",
        r"no mas (?:mensajes|textos|msjs|sms|promociones|spam)",
        r"(?:dar|darme|darse|dame|denme|deme|den|doy|me doy) de baja",
        r"(?:eliminen|eliminenme|elimineme|eliminame|eliminar|borren|borrenme|borrar|saquen|"
        r"saquenme|sacame|sacar|quiten|quitenme|quitame|quitar|remuevan|remuevanme)(?: mi numero|"
        r" me| mi telefono)? (?:de|del) (?:la |su |esta |sus |tu )?(?:lista|listas|base de datos|"
        r"sistema)",
        r"(?:numero|telefono) (?:equivocado|incorrecto|errado)",
        r"se equivocaron de numero",
        r"(?:desuscribir|desuscribirme|cancelar (?:mi |la )?suscripcion|anular (?:mi |la )?"
        r"suscripcion)",
        r"dejen(?:me)? en paz|dejame en paz",
    ),
    guarded=(
        r"(?:dejen|deja|deje|dejar|paren|pare|parar|para) de (?:enviar|mandar|escribir|mensajear|"
        r"textear|molestar|contactar)[a-z]*",
    ),
    unclear_scope=(),
    unclear_anywhere=(
        r"(?:demasiados|muchos) (?:mensajes|textos)",
        r"por ?que me (?:escriben|mandan|envian)",
        r"como (?:consiguieron|obtuvieron|tienen) mi numero",
    ),
    negations=("no", "nunca", "jamas"),
    mandatory={"opt_out": ("parar", "cancelar"), "help": ("ayuda",), "opt_in": ("comenzar",)},
    texts=Texts(
        help="{brand}: mensajes de marketing recurrentes y automatizados. La frecuencia de los "
             "mensajes varía. Pueden aplicarse tarifas de mensajes y datos. Responda AYUDA para "
             "obtener ayuda o PARAR para cancelar.",
        opt_out="{brand}: Se ha dado de baja y no recibirá más mensajes. Responda COMENZAR para "
                "volver a suscribirse.",
        opt_out_all="{brand}: Se ha dado de baja de todos los mensajes de {brand}{kept} y no "
                    "recibirá más. Responda COMENZAR para volver a suscribirse.",
        opt_in="{brand}: Se ha vuelto a suscribir. La frecuencia de los mensajes varía. Pueden "
               "aplicarse tarifas de mensajes y datos. Responda AYUDA para obtener ayuda o PARAR "
               "para cancelar.",
        confirm_request="Responda SI para recibir mensajes de marketing recurrentes y "
                        "automatizados de {brand}. La frecuencia de los mensajes varía. Pueden "
                        "aplicarse tarifas de mensajes y datos. Responda AYUDA para obtener ayuda "
                        "o PARAR para cancelar.",
        confirmed="{brand}: ¡Se ha suscrito! La frecuencia de los mensajes varía. Pueden aplicarse "
                  "tarifas de mensajes y datos. Responda AYUDA para obtener ayuda o PARAR para "
                  "cancelar.",
        clarify="{brand}: ¿Quiere dejar de recibir nuestros mensajes? Responda PARAR para darse de "
                "baja o AYUDA para obtener ayuda.",
        kept=", excepto {programs},",
    ),
    macros=_ES_MACROS,
)

LANGUAGES: dict[str, Language] = {"en": ENGLISH, "es": SPANISH}


def texts(language: str) -> Texts:
    """The built-in texts of a language; English for a language without them."""
    return LANGUAGES.get(language, ENGLISH).texts
