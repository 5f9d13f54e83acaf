from ._prepare import prepare as prepare
from ._prepared import PreparedSurvey as PreparedSurvey
from ._prepared import SurveyInfo as SurveyInfo
