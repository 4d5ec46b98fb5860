"""Card and number games: NumberLine, EZPoints, Points24 and Blackjack, with rendered frames."""
