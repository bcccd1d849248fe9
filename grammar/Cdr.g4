// Cdr.g4: the grammar of .cdr files (schemas, rules, rule tests, rule sets).
// Generated code lives only in the build tree. docs/language.md is the reference.
grammar Cdr;

file : decl* EOF ;

// `cdr eval`: one closed expression.
exprInput : expr EOF ;

decl
  : schemaDecl
  | ruleDecl
  | testDecl
  | rulesetDecl
  ;

// ---- schemas ---------------------------------------------------------------
schemaDecl : 'schema' name=ident ('version' version=STRING)? schemaItem* ;

schemaItem
  : 'signal' name=ident ':' valueType signalClause*          # signalDecl
  | 'event' name=ident (':' valueType)? signalClause*         # eventDecl
  | 'valueset' name=ident '=' '{' codeGroup (',' codeGroup)* '}'  # valuesetDecl
  ;

valueType
  : 'quantity' unit=SQSTRING                                  # quantityType
  | 'boolean'                                                 # booleanType
  | 'integer'                                                 # integerType
  | 'decimal'                                                 # decimalType
  | 'text'                                                    # textType
  | 'code' ('in' 'valueset' valueset=ident)?                  # codeType
  | 'enum' '{' enumMember (',' enumMember)* '}'               # enumType
  ;

// Enum members are referenced as 'text' in expressions, so any word may name one.
enumMember : ident | 'alert' | 'no' | 'when' | 'end' | 'null' | 'true' | 'false' ;

signalClause
  : 'codes' codeGroup (',' codeGroup)*                        # codesClause
  | 'plausible' low=signedNumber '..' high=signedNumber policy=('refuse' | 'keep')?  # plausibleClause
  | 'convert' unit=SQSTRING 'factor' factor=signedNumber      # convertClause
  | 'from' kind=ident                                         # fromClause
  ;

codeGroup : system=ident STRING (',' STRING)* ;

signedNumber : '-'? NUMBER ;

// ---- rule sets ---------------------------------------------------------------
rulesetDecl : 'ruleset' name=ident ('retention' retention=expr)? rulesetItem* ;

// The governance policy (docs/governance.md): the least reviewed status whose rules run
// live, and the approvals a rule's hash must hold to count as approved.
rulesetItem
  : 'live' status=ident                                                   # liveItem
  | 'approvals' count=NUMBER ('including' STRING (',' STRING)*)? isSigned='signed'?  # approvalPolicyItem
  ;

// ---- rules -------------------------------------------------------------------
ruleDecl : 'rule' name=ident ('version' version=STRING)? ruleItem* ;

ruleItem
  : 'title' STRING                                            # titleItem
  | 'owner' STRING                                            # ownerItem
  | 'status' value=ident                                      # statusItem
  | 'cites' STRING (',' STRING)*                              # citesItem
  | 'approvals' STRING (',' STRING)*                          # approvalsItem
  | 'uses' ident (',' ident)*                                 # usesItem
  | 'let' name=ident '=' expr                                 # letItem
  | 'when' expr 'alert' severity=ident message=STRING         # whenItem
  | 'suppress' expr                                           # suppressItem
  | 'allow' finding=allowKind reason=STRING                   # allowItem
  ;

// A finding `allow` may silence: `band-gap`, `band-overlap`, `threshold-out-of-range`.
allowKind : ident ('-' ident)* ;

// ---- rule tests --------------------------------------------------------------
testDecl : 'test' name=STRING 'for' target=ident '{' testStep* '}' ;

testStep
  : 'given' signal=signalName value=testValue? 'at' time=expr
      ('recorded' recorded=expr)? ('id' id=STRING)? ('status' status=ident)?   # givenStep
  | 'expect' 'alert' severity=ident? 'at' time=expr           # expectAlertStep
  | 'expect' 'no' 'alert' 'at' time=expr                      # expectNoAlertStep
  | 'expect' name=ident '=' (value=testValue | 'null') 'at' time=expr   # expectValueStep
  ;

testValue
  : signedNumber unit=SQSTRING?
  | 'true'
  | 'false'
  | SQSTRING
  ;

// ---- expressions (CQL precedence where CQL has the operator) ----------------
expr
  : primary                                                   # primaryExpr
  | op=('+' | '-') expr                                       # unaryExpr
  | op=('predecessor' | 'successor') 'of' expr                # stepExpr
  | <assoc=right> expr op='^' expr                            # powerExpr
  | expr op='??' expr                                         # coalesceExpr
  | expr op=('*' | '/' | 'div' | 'mod') expr                  # mulExpr
  | expr op=('+' | '-') expr                                  # addExpr
  | expr 'is' negated='not'? test=('null' | 'true' | 'false')     # isExpr
  | expr 'as' type=ident                                      # asExpr
  | expr op=('<' | '<=' | '>' | '>=') expr                    # compareExpr
  | expr op=('=' | '!=' | '~' | '!~') expr                    # equalExpr
  | expr 'for' expr                                           # sustainedExpr
  | 'not' expr                                                # notExpr
  | expr op='and' expr                                        # andExpr
  | expr op=('or' | 'xor') expr                               # orExpr
  | <assoc=right> expr op='implies' expr                      # impliesExpr
  ;

primary
  : literal                                                   # literalPrimary
  | '(' expr ')'                                              # parenPrimary
  | 'if' cond=expr 'then' then=expr 'else' otherwise=expr     # ifPrimary
  | 'case' subject=expr? caseItem+ 'else' otherwise=expr 'end' # casePrimary
  | 'bands' subject=expr '{' bandRow (';' bandRow)* ';'? '}'  # bandsPrimary
  | 'no' signal=signalName 'within' window=windowLength       # absencePrimary
  | first=signalName 'then' second=signalName 'within' window=windowLength  # sequencePrimary
  | op=('minimum' | 'maximum') type=ident                     # limitPrimary
  | callee=ident '(' (callArg (',' callArg)*)? ')'            # callPrimary
  | signalName                                                # namePrimary
  ;

// A name; `rule.let` reads another rule's `let` as a signal (a derived signal).
signalName : ident ('.' member=ident)? ;

caseItem : 'when' when=expr 'then' then=expr ;

callArg : value=expr ('within' window=windowLength)? ;

// A window's length: a literal (`12h`, `4 hours`), which ends the window, so that
// `no resp_rate within 12h and score >= 5` reads as meant; anything else in parentheses.
windowLength
  : sign='-'? literal                                         # literalWindow
  | '(' expr ')'                                              # parenWindow
  ;

bandRow
  : bandCond ':' value=expr                                   # condRow
  | 'else' ':' value=expr                                     # elseRow
  ;

bandCond
  : low=bandValue '..' high=bandValue                         # rangeCond
  | bandBound ('and' bandBound)?                              # boundCond
  | bandValue                                                 # exactCond
  ;

bandBound : op=('<' | '<=' | '>' | '>=') bandValue ;

bandValue
  : signedNumber unit=SQSTRING?
  | SQSTRING
  | 'true'
  | 'false'
  ;

literal
  : 'true'                                                    # trueLiteral
  | 'false'                                                   # falseLiteral
  | 'null'                                                    # nullLiteral
  | NUMBER (unit=SQSTRING | temporal=temporalUnit)?           # numberLiteral
  | DURATION                                                  # durationLiteral
  | SQSTRING                                                  # textLiteral
  | DATETIME                                                  # datetimeLiteral
  ;

temporalUnit
  : 'year' | 'years' | 'month' | 'months' | 'week' | 'weeks' | 'day' | 'days'
  | 'hour' | 'hours' | 'minute' | 'minutes' | 'second' | 'seconds'
  | 'millisecond' | 'milliseconds'
  ;

// Words that are keywords only where they start an item: usable as names.
ident
  : IDENT
  | 'title' | 'owner' | 'status' | 'cites' | 'approvals' | 'version' | 'codes'
  | 'plausible' | 'convert' | 'factor' | 'quantity' | 'boolean' | 'integer'
  | 'decimal' | 'text' | 'code' | 'enum' | 'valueset' | 'retention' | 'recorded'
  | 'id' | 'in' | 'ruleset' | 'of' | 'predecessor' | 'successor' | 'minimum'
  | 'maximum' | 'refuse' | 'keep' | 'from' | 'live' | 'including' | 'signed'
  | 'allow'
  ;

// ---- lexer -------------------------------------------------------------------
DURATION : [0-9]+ ('ms' | 's' | 'min' | 'h' | 'd' | 'wk') ;
NUMBER   : [0-9]+ ('.' [0-9]+)? ;
DATETIME : '@' [0-9] [0-9] [0-9] [0-9] '-' [0-9] [0-9] '-' [0-9] [0-9]
           ('T' [0-9] [0-9] (':' [0-9] [0-9] (':' [0-9] [0-9] ('.' [0-9]+)?)?)?
             ('Z' | ('+' | '-') [0-9] [0-9] ':' [0-9] [0-9])?)? ;
STRING   : '"' (~["\\\r\n] | '\\' ~[\r\n])* '"' ;
SQSTRING : '\'' (~['\\\r\n] | '\\' ~[\r\n])* '\'' ;
IDENT    : [a-zA-Z_] [a-zA-Z_0-9]* ;

UNTERMINATED_STRING : '"' (~["\\\r\n] | '\\' ~[\r\n])* | '\'' (~['\\\r\n] | '\\' ~[\r\n])* ;

LINE_COMMENT  : '//' ~[\r\n]* -> channel(HIDDEN) ;
BLOCK_COMMENT : '/*' .*? '*/' -> channel(HIDDEN) ;
WS : [ \t\r\n]+ -> skip ;

INVALID_CHAR : . ;
